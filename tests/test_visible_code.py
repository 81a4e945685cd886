"""The code a reader sees is self-contained: copied in order into a fresh notebook, it runs.

Every name that a visible code cell reads is defined by an earlier visible cell (or the same
cell), imported, or a builtin. A cell is *hidden* when it is tagged ``remove-cell`` or
``remove-input``: its code never appears on the page. Cells tagged ``hide-input``, ``hide-cell``
or ``hide-output`` are visible (the reader can unfold them), and so are the exercises' solution
and check cells, which the instructors' book shows and the students' notebook asks for. The
rule applies to every page of the table of contents, new chapters included. Within one cell
the order is not checked (a cell that reads a name before binding it fails when run anyway).

The bookkeeping that puts numbers into the prose, ``glue(...)``, is out of view too: no visible
cell calls it. And visible code fits the page's code box: no line is wider than CODE_WIDTH.
"""

import ast
import builtins
import symtable
from pathlib import Path

import jupytext
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from cnnbook.book import toc

ROOT = Path(__file__).resolve().parent.parent
HIDDEN_TAGS = {"remove-cell", "remove-input"}
# Each test below runs on every page of the book's table of contents.
EVERY_PAGE = pytest.mark.parametrize(
    "chapter", toc.chapters(ROOT, appendix=True), ids=lambda path: path.stem
)
# The widest line a code box shows without scrolling in a window 1280 pixels wide, at the font
# size _static/cnnbook.css sets. An otter answer line (`x = ...  # SOLUTION`) is exempt: its
# marker cannot span lines.
CODE_WIDTH = 83
# Names a notebook kernel provides without an import.
KERNEL_NAMES = set(dir(builtins)) | {"display", "get_ipython", "In", "Out"}


def is_hidden(cell):
    """True when the book never shows the cell's code."""
    return bool(HIDDEN_TAGS & set(cell.metadata.get("tags", [])))


def python_source(cell_source):
    """The cell's code as plain Python (IPython magics turned into calls)."""
    return TransformerManager().transform_cell(cell_source)


def reads_and_bindings(source):
    """(names the code reads from the notebook's namespace, names it binds there)."""
    top = symtable.symtable(source, "<cell>", "exec")
    bindings = {
        symbol.get_name()
        for symbol in top.get_symbols()
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace()
    }
    reads = {symbol.get_name() for symbol in top.get_symbols() if symbol.is_referenced()}
    pending = list(top.get_children())
    while pending:  # functions, classes, comprehensions: their reads of global names
        table = pending.pop()
        pending.extend(table.get_children())
        for symbol in table.get_symbols():
            if symbol.is_referenced() and symbol.is_global():
                reads.add(symbol.get_name())
            if symbol.is_declared_global() and symbol.is_assigned():
                bindings.add(symbol.get_name())
    return reads, bindings


def undefined_names(chapter):
    """[(cell number, name)] for each name a visible cell reads that no visible cell defined."""
    notebook = jupytext.read(chapter)
    defined = set(KERNEL_NAMES)
    found = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or is_hidden(cell):
            continue
        reads, bindings = reads_and_bindings(python_source(cell.source))
        found.extend((number, name) for name in sorted(reads - defined - bindings))
        defined |= bindings
    return found


@EVERY_PAGE
def test_visible_code_reads_only_visible_names(chapter):
    found = undefined_names(chapter)
    assert not found, (
        f"{chapter.name}: visible cells read names that only hidden cells (or no cell) define: "
        + ", ".join(f"{name!r} in cell {number}" for number, name in found)
        + "; define them in a visible cell, or move the reading code into the hidden cell"
    )


def visible_glue_calls(chapter):
    """[cell number] of each visible cell that calls glue(...)."""
    notebook = jupytext.read(chapter)
    return [
        number
        for number, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        and not is_hidden(cell)
        and any(
            isinstance(node, ast.Call) and getattr(node.func, "id", None) == "glue"
            for node in ast.walk(ast.parse(python_source(cell.source)))
        )
    ]


@EVERY_PAGE
def test_glue_calls_are_out_of_view(chapter):
    cells = visible_glue_calls(chapter)
    assert not cells, (
        f"{chapter.name}: visible cells {cells} call glue(...); move those calls into a cell "
        "tagged remove-cell"
    )


def wide_lines(chapter):
    """[(cell number, width)] of each visible line wider than CODE_WIDTH."""
    notebook = jupytext.read(chapter)
    return [
        (number, len(line))
        for number, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and not is_hidden(cell)
        for line in cell.source.splitlines()
        if len(line) > CODE_WIDTH and not line.endswith("# SOLUTION")
    ]


@EVERY_PAGE
def test_visible_code_fits_the_code_box(chapter):
    lines = wide_lines(chapter)
    assert not lines, (
        f"{chapter.name}: visible lines wider than {CODE_WIDTH} characters "
        f"(cell, width): {lines}; run `ruff format --line-length {CODE_WIDTH}` on the cell "
        "and split long strings"
    )


def test_a_name_made_in_a_hidden_cell_is_caught(tmp_path):
    chapter = tmp_path / "chapter.md"
    chapter.write_text(
        "# A chapter\n\n"
        "```{code-cell} ipython3\n:tags: [remove-cell]\n\nsecret = 1\n```\n\n"
        "```{code-cell} ipython3\nimport math\n\n\n"
        "def f(x):\n    return [secret + x + y for y in range(2)]\n```\n\n"
        "```{code-cell} ipython3\n:tags: [hide-input]\n\nshown = math.pi\n```\n\n"
        "```{code-cell} ipython3\n%time print(f(shown), later)\nlater = 2\n```\n"
    )
    assert undefined_names(chapter) == [(2, "secret")]
    assert visible_glue_calls(chapter) == []
    assert wide_lines(chapter) == []
    chapter.write_text(
        "```{code-cell} ipython3\n:tags: [remove-cell]\n\nx = '" + "a" * 90 + "'\n```\n\n"
        "```{code-cell} ipython3\ny = 1  # " + "b" * 80 + "\n```\n"
    )
    assert wide_lines(chapter) == [(1, 89)]


def test_a_name_defined_later_is_caught(tmp_path):
    chapter = tmp_path / "chapter.md"
    chapter.write_text(
        "# A chapter\n\n"
        "```{code-cell} ipython3\nprint(total)\n```\n\n"
        "```{code-cell} ipython3\ntotal = 3\n```\n"
    )
    assert undefined_names(chapter) == [(1, "total")]
    chapter.write_text(
        "# A chapter\n\n```{code-cell} ipython3\nfrom myst_nb import glue\n\nglue('x', 1)\n```\n"
    )
    assert visible_glue_calls(chapter) == [1]
