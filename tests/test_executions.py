"""A chapter executed by nbval joins the book's execution cache: the next build shows those
outputs and does not execute the chapter again; a chapter the book reads differently is not
stored."""

import os
import subprocess
import sys
from pathlib import Path

from submissions import MYST_HEADER

from cnnbook.book import executions

CELL = '```{code-cell} ipython3\nprint("build" + "-executed")\n```\n'
REMEMBERED = [[{"output_type": "stream", "name": "stdout", "text": "remembered from nbval\n"}]]


def small_book(folder, page):
    """A one-page book with the book's execution settings; returns the page's path."""
    folder.mkdir()
    (folder / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (folder / "_config.yml").write_text(
        "title: Cache\nexecute:\n  execute_notebooks: cache\n"
        "parse:\n  myst_enable_extensions: [colon_fence]\n"
        "sphinx:\n  extra_extensions: [cnnbook.book.sphinx_extension]\n"
    )
    (folder / "page.md").write_text(MYST_HEADER + page)
    return folder / "page.md"


def build(folder):
    """Build the book at folder in quick mode; return the page's HTML."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", "--warningiserror", str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "CNNBOOK_MODE": "quick"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return (folder / "_build" / "html" / "page.html").read_text()


def test_the_build_shows_its_modes_remembered_outputs_instead_of_executing(tmp_path):
    page = small_book(tmp_path / "book", "# Page\n\n" + CELL)
    full = [[{**REMEMBERED[0][0], "text": "remembered in full mode\n"}]]
    assert executions.remember(page, full, 1.0, page.parent, "full")
    assert executions.remember(page, REMEMBERED, 1.0, page.parent, "quick")
    html = build(page.parent)
    assert "remembered from nbval" in html
    assert "build-executed" not in html and "remembered in full mode" not in html


def test_cells_the_book_reads_differently_are_not_stored(tmp_path):
    # Inside a colon fence the book sees no code cell; jupytext (and so nbval) sees one.
    page = small_book(tmp_path / "book", "# Page\n\n:::{note}\n" + CELL + ":::\n")
    assert not executions.remember(page, REMEMBERED, 1.0, page.parent, "quick")
    assert not (executions.cache_path(page.parent / "_build" / "html", "quick")).exists()
