"""The conftest hook lets nbval run MyST Markdown chapters, and a failing cell fails the test."""

import subprocess
import sys
from pathlib import Path

import pytest
from submissions import MYST_HEADER

ROOT = Path(__file__).resolve().parent.parent


def run_nbval(path):
    """Run pytest --nbval-lax on one file with the project's conftest as a plugin."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "--nbval-lax", "-q", str(path)],
        cwd=path.parent,
        env={"PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("cells", "summary"),
    [(["x = 2", "assert x * 3 == 6"], "2 passed"), (["x = 2", "1 / 0"], "1 failed, 1 passed")],
    ids=["passing", "failing"],
)
def test_myst_chapter_cells_run_under_nbval(tmp_path, cells, summary):
    body = "".join(f"\n```{{code-cell}} ipython3\n{cell}\n```\n" for cell in cells)
    chapter = tmp_path / "chapter.md"
    chapter.write_text(MYST_HEADER + "# A chapter\n" + body)
    result = run_nbval(chapter)
    assert summary in result.stdout, result.stdout + result.stderr
    assert not (tmp_path / "chapter.ipynb").exists()


def test_plain_markdown_is_not_collected(tmp_path):
    page = tmp_path / "notes.md"
    page.write_text("# Just text\n\n```python\n1 / 0\n```\n")
    assert "no tests ran" in run_nbval(page).stdout
