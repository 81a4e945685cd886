"""Let nbval test the chapters, which are MyST Markdown notebooks, without writing .ipynb files.

nbval collects only ``*.ipynb``; this hook hands it the MyST chapters too, read through
jupytext in memory. Run it as ``pytest --nbval-lax chapters/``.
"""

import types
from unittest import mock

import jupytext
import nbval.plugin


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
            yield from super().collect()


def pytest_collect_file(file_path, parent):
    option = parent.config.option
    if (option.nbval or option.nbval_lax) and is_myst_notebook(file_path):
        return MystNotebookFile.from_parent(parent, path=file_path)
    return None
