"""The book's executed chapters: where a build keeps them, one cache per mode, and how a
chapter executed elsewhere (by nbval in `make test`, by `cnnbook reproduce --chapter` in full
mode) joins them so the build need not run it again, and how executions that quote a file
which changed since (the reproduction report) are dropped.

The book executes chapters through jupyter-cache (``execute_notebooks: cache``), which finds an
executed notebook by a hash of its code cells (sources and metadata) and kernel. `remember`
stores an outside execution's outputs under that hash, for the notebook exactly as the book
reads it.
"""

from pathlib import Path

import jupytext
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from myst_nb.core.read import read_myst_markdown_notebook
from myst_parser.config.main import MdParserConfig
from nbformat import NotebookNode


def cache_path(root, mode):
    """Return the jupyter-cache folder of the book at root in mode: one per mode, shared by
    every build of that book (`make book`, `make book-full` into its own folder)."""
    return Path(root) / "_build" / ".jupyter_cache" / mode


def as_the_book_reads(source, root):
    """The chapter source read as the book build reads it (the book's MyST extensions on)."""
    config = yaml.safe_load((Path(root) / "_config.yml").read_text())
    extensions = config.get("parse", {}).get("myst_enable_extensions", [])
    text = Path(source).read_text(encoding="utf-8")
    return read_myst_markdown_notebook(text, MdParserConfig(enable_extensions=set(extensions)))


def remember(source, outputs, seconds, root, mode):
    """Store a chapter executed outside the build in the build's cache for mode.

    source: the chapter's .md file, in the book at root; outputs: each code cell's outputs in
    order, as nbformat output dicts, from an execution in which no cell failed; seconds: how
    long it took. Returns False, storing nothing, for a file outside the book, or when the
    cells the book reads are not the ones executed (so the build executes the chapter itself).
    """
    if Path(root).resolve() not in Path(source).resolve().parents:
        return False
    notebook = as_the_book_reads(source, root)
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    executed = [cell.source for cell in jupytext.read(source).cells if cell.cell_type == "code"]
    if [cell.source for cell in cells] != executed or len(cells) != len(outputs):
        return False
    for cell, cell_outputs in zip(cells, outputs, strict=True):
        cell.outputs = [NotebookNode(output) for output in cell_outputs]
    cache = get_cache(str(cache_path(root, mode)))
    uri, data = str(Path(source).resolve()), {"execution_seconds": seconds}
    bundle = CacheBundleIn(notebook, uri, data=data)
    cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
    return True


def forget(root, sources, kept=()):
    """Drop the executions of sources (chapter files) from every mode's cache of the book at
    root, except kept ((source, mode) pairs): for chapters whose outputs quote a file that has
    changed, which a cache keyed by the code alone would keep showing."""
    uris = {str(Path(source).resolve()) for source in sources}
    kept = {(str(Path(source).resolve()), mode) for source, mode in kept}
    for folder in sorted(cache_path(root, "*").parent.glob("*")):
        if not folder.is_dir():
            continue
        cache = get_cache(str(folder))
        for record in cache.list_cache_records():
            if record.uri in uris and (record.uri, folder.name) not in kept:
                cache.remove_cache(record.pk)
