"""A chapter executed by nbval joins the book's execution cache: the next build shows those
outputs and does not execute the chapter again; a chapter the book reads differently is not
stored."""

import subprocess
import sys

from jupyter_cache import get_cache
from submissions import MYST_HEADER, ROOT, build_book, small_book

from cnnbook.book import executions


def code(source):
    """A MyST code cell."""
    return f"```{{code-cell}} ipython3\n{source}\n```\n\n"


CELL = code('print("build" + "-executed")')
REMEMBERED = [[{"output_type": "stream", "name": "stdout", "text": "remembered from nbval\n"}]]


def test_the_build_shows_its_modes_remembered_outputs_instead_of_executing(tmp_path):
    page = small_book(tmp_path / "book", execute="cache", page="# Page\n\n" + CELL)
    full = [[{**REMEMBERED[0][0], "text": "remembered in full mode\n"}]]
    assert executions.remember(page, full, 1.0, page.parent, "full")
    assert executions.remember(page, REMEMBERED, 1.0, page.parent, "quick")
    html = (build_book(page.parent, CNNBOOK_MODE="quick") / "page.html").read_text()
    assert "remembered from nbval" in html
    assert "build-executed" not in html and "remembered in full mode" not in html


def test_forgotten_executions_are_executed_again_in_every_mode_but_the_kept(tmp_path):
    page = small_book(tmp_path / "book", execute="cache", page="# Page\n\n" + CELL)
    other = page.parent / "other.md"
    other.write_text(page.read_text().replace("build", "other"))  # another code cell
    (page.parent / "_toc.yml").write_text(
        "format: jb-book\nroot: page\nchapters:\n- file: other\n"
    )
    for source in (page, other):
        for mode in ("quick", "full"):
            assert executions.remember(source, REMEMBERED, 1.0, page.parent, mode)
    executions.forget(page.parent, [page], kept=[(page, "full")])
    left = {
        (record.uri.rpartition("/")[2], mode)
        for mode in ("quick", "full")
        for record in get_cache(str(executions.cache_path(page.parent, mode))).list_cache_records()
    }
    assert left == {("page.md", "full"), ("other.md", "quick"), ("other.md", "full")}
    html = (build_book(page.parent, CNNBOOK_MODE="quick") / "page.html").read_text()
    assert "build-executed" in html and "remembered from nbval" not in html


def test_a_chapter_the_book_reads_differently_or_not_its_own_is_not_stored(tmp_path):
    # Inside a colon fence the book sees no code cell; jupytext (and so nbval) sees one.
    page = small_book(
        tmp_path / "book", execute="cache", page="# Page\n\n:::{note}\n" + CELL + ":::\n"
    )
    assert not executions.remember(page, REMEMBERED, 1.0, page.parent, "quick")
    elsewhere = small_book(tmp_path / "elsewhere", execute="cache", page="# Page\n\n" + CELL)
    assert not executions.remember(elsewhere, REMEMBERED, 1.0, page.parent, "quick")
    assert not executions.cache_path(page.parent, "quick").exists()


def test_nbval_runs_cells_as_jupyter_does(tmp_path):
    # With history, as in Jupyter and the book: `_` is the last result shown, and a trailing
    # `;` hides a result. nbval alone runs cells without history, and `_` stays empty.
    cells = ['"shown"', '"hidden";', 'assert _ == "shown", repr(_)']
    page = tmp_path / "page.md"
    page.write_text(MYST_HEADER + "# Page\n\n" + "".join(code(cell) for cell in cells))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "--nbval-lax", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
