"""Let nbval test the chapters, which are MyST Markdown notebooks, without writing .ipynb files.

nbval collects only ``*.ipynb``; this hook hands it the MyST chapters too, read through
jupytext in memory. Run it as ``pytest --nbval-lax chapters/``.

A chapter whose every cell ran without error joins the book's execution cache for the current
mode (``cnnbook.book.executions``), so the book built next (``make test`` builds it after the
chapters) shows these outputs instead of executing the chapter a second time.
"""

import time
import types
from pathlib import Path
from unittest import mock

import jupytext
import nbval.plugin

from cnnbook import mode
from cnnbook.book import executions

BOOK = Path(__file__).resolve().parent
FAILED = set()  # node ids of the notebooks with a failed cell in this session


def is_myst_notebook(path):
    """Return True for a Markdown file whose jupytext header says it is a MyST notebook."""
    if path.suffix != ".md":
        return False
    with open(path, encoding="utf-8") as stream:
        head = stream.read(2000)
    return head.startswith("---") and "format_name: myst" in head


class MystNotebookFile(nbval.plugin.IPyNbFile):
    """An nbval notebook collector that reads the notebook with jupytext."""

    def collect(self):
        reader = types.SimpleNamespace(read=lambda path, as_version: jupytext.read(path))
        with mock.patch.object(nbval.plugin, "nbformat", reader):
            self.cells = list(super().collect())
        yield from self.cells

    def setup(self):
        self.started = time.perf_counter()
        super().setup()
        kernel = self.kernel

        def execute(source, allow_stdin=None):
            """Run a cell as Jupyter and the book do, with history (nbval runs it without), so
            that a trailing `;` hides its result and the outputs are the book's."""
            return kernel.kc.execute(
                source, store_history=True, allow_stdin=allow_stdin, stop_on_error=False
            )

        kernel.execute_cell_input = execute

    def teardown(self):
        super().teardown()
        outputs = [cell.test_outputs for cell in self.cells]
        ran = all(cell_outputs is not None for cell_outputs in outputs)
        if ran and self.nodeid not in FAILED:
            seconds = time.perf_counter() - self.started
            executions.remember(self.path, outputs, seconds, BOOK, mode.current())


def pytest_collect_file(file_path, parent):
    option = parent.config.option
    if (option.nbval or option.nbval_lax) and is_myst_notebook(file_path):
        return MystNotebookFile.from_parent(parent, path=file_path)
    return None


def pytest_runtest_logreport(report):
    if report.failed:
        FAILED.add(report.nodeid.split("::")[0])
