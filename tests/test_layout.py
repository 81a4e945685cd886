"""The package's layout rule: imports only go down (README.md, "Layout").

From the top: the tools (`course`, `lab`), then the chapter modules at the top level of
`cnnbook/`, then the book's machinery (`book`), then the data sets (`datasets`), and at the
bottom the two modules every layer may use (`mode`, `validate`). A module may import its own
layer and the layers below it; `course` and `lab` never import each other. The `cnnbook`
command (`cli`) imports its tools only when they are asked for.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnnbook"
FOUNDATION = {"mode", "validate"}
RANKS = {"foundation": 0, "datasets": 1, "book": 2, "chapter": 3, "course": 4, "lab": 4}


def layer(module):
    """The layer of a dotted module name inside cnnbook, e.g. 'cnnbook.book.cache' -> 'book'."""
    parts = module.split(".")[1:]
    if not parts or parts[0] == "cli":
        return "command"
    if parts[0] in ("datasets", "book", "course", "lab"):
        return parts[0]
    return "foundation" if parts[0] in FOUNDATION else "chapter"


def imported(source, module):
    """The cnnbook modules that source (the code of module) imports, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            found += [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in found if name == "cnnbook" or name.startswith("cnnbook.")]


def upward(source, module):
    """The imports in source that break the rule, as 'importer -> imported' strings."""
    source_layer = layer(module)
    if source_layer == "command":
        return []
    broken = []
    for target in imported(source, module):
        target_layer = layer(target)
        if target == "cnnbook":  # the package itself, whose __init__ imports nothing
            allowed = True
        elif target_layer == "command":
            allowed = False
        elif source_layer == target_layer:
            allowed = True
        else:
            allowed = RANKS[target_layer] < RANKS[source_layer]
        if not allowed:
            broken.append(f"{module} ({source_layer}) -> {target} ({target_layer})")
    return broken


def modules():
    """Every module of the package, as (dotted name, path)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def test_imports_only_go_down():
    broken = [
        line
        for module, path in modules()
        for line in upward(path.read_text(encoding="utf-8"), module)
    ]
    assert not broken, "imports that go up:\n" + "\n".join(broken)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("cnnbook.datasets.mnist", "from cnnbook import training"),
        ("cnnbook.book.cache", "import cnnbook.recipes"),
        ("cnnbook.training", "from cnnbook.course import grading"),
        ("cnnbook.figures", "from cnnbook.lab import reproduce"),
        ("cnnbook.course.grading", "from cnnbook.lab import bench"),
        ("cnnbook.datasets.registry", "def f():\n    from cnnbook.book import cache"),
        ("cnnbook.book.toc", "from ..recipes import RECIPES"),
    ],
)
def test_an_upward_import_is_caught(module, source):
    assert upward(source, module)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("cnnbook.training", "from cnnbook.book import cache, provenance"),
        ("cnnbook.book.cache", "from cnnbook.datasets import registry"),
        ("cnnbook.datasets.mnist", "from cnnbook import validate"),
        ("cnnbook.lab.reproduce", "from cnnbook import recipes"),
    ],
)
def test_a_downward_import_passes(module, source):
    assert not upward(source, module)


def test_the_command_imports_its_tools_lazily():
    source = (PACKAGE / "cli.py").read_text(encoding="utf-8")
    top_level = [
        node for node in ast.parse(source).body if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    assert not [node for node in top_level if imported(ast.unparse(node), "cnnbook.cli")]


def test_every_chapter_module_names_its_chapter():
    for module, path in modules():
        if layer(module) == "chapter":
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            assert "chapter" in docstring.lower(), f"{module}'s docstring names no chapter"
