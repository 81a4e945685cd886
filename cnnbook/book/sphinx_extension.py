"""Sphinx extension for the book build: offline MathJax, one execution cache per mode, and
solutions only in the instructor build.

Listed under ``sphinx: extra_extensions`` in ``_config.yml``.

- MathJax 3 is served from the copy that the ``django-static-mathjax`` package installs, so
  formulas render with no network. Without that package the CDN default stays in place.
- Executed notebooks are cached in ``_build/.jupyter_cache/<mode>`` (``executions``), so a
  quick-mode cache can never serve a full-mode build or the reverse, and switching mode
  re-executes every chapter.
- Exercises are styled by sphinx-exercise (listed before this extension). Everything between a
  ``solution-start`` and its ``solution-end``, the reference answers and the checks, is left
  out of the book unless ``CNNBOOK_SOLUTIONS=1``: ``make book`` is the students' book and
  ``make book-instructor`` the instructors', built into its own folder. The chapters execute
  the same cells either way; only what the pages show differs. The students' build also strips
  those parts from the page sources it publishes (``_sources/``, behind each page's download
  button), so no file of the students' site holds a solution or a check.
"""

import json
import os
import re
import shutil
from pathlib import Path

from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import solution_node

import cnnbook.mode
from cnnbook.book import executions

MATHJAX_ENTRY = "tex-chtml.js"
MATHJAX_STATIC = "mathjax"  # folder under the build's _static/
# From a solution-start directive to the closing fence of its solution-end directive.
SOLUTION = re.compile(
    r"^(:{3,})\{solution-start\}.*?^:{3,}\{solution-end\}[^\n]*\n:{3,}[^\n]*(\n|$)",
    re.MULTILINE | re.DOTALL,
)
SOLUTION_MARK = re.compile(r"\{solution-(start|end)\}")


def local_mathjax():
    """Return the folder holding MathJax 3's es5 build, or None if it is not installed."""
    try:
        import mathjax  # the django-static-mathjax distribution
    except ImportError:
        return None
    folder = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    return folder if (folder / MATHJAX_ENTRY).is_file() else None


def configure(app, config):
    """Point MathJax at the local copy and the notebook cache at the mode's folder."""
    if local_mathjax() is not None:
        config.mathjax_path = f"{MATHJAX_STATIC}/{MATHJAX_ENTRY}"
    config.nb_execution_cache_path = str(executions.cache_path(app.outdir, config.cnnbook_mode))


def solutions_shown():
    """Return True when CNNBOOK_SOLUTIONS=1 asks for the instructor build (unset or 0: not)."""
    value = os.environ.get("CNNBOOK_SOLUTIONS", "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(
            f"CNNBOOK_SOLUTIONS={value!r} is not 0 or 1; set it to 1 for the instructor build "
            "with solutions, or leave it unset for the students' book"
        )
    return value == "1"


class RemoveSolutions(SphinxTransform):
    """Drop every solution, gated code cells included, from a students' build."""

    default_priority = 20  # after sphinx-exercise merges solution-start..solution-end (10)

    def apply(self):
        if self.config.cnnbook_solutions:
            return
        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)


def strip_solutions(text: str) -> str:
    """A MyST source without its solutions (solution-start ... solution-end, both included)."""
    return SOLUTION.sub("", text)


def strip_notebook(text: str) -> str:
    """A notebook's JSON without the cells from a solution-start to its solution-end."""
    notebook = json.loads(text)
    cells, inside = [], False
    for cell in notebook.get("cells", []):
        marks = SOLUTION_MARK.findall("".join(cell.get("source", "")))
        if "start" in marks:
            inside = True
        if not inside:
            cells.append(cell)
        if "end" in marks:
            inside = False
    notebook["cells"] = cells
    return json.dumps(notebook, indent=1)


def strip_sources(app, exception):
    """In the students' build, strip the solutions from the page sources it publishes."""
    if exception is not None or app.config.cnnbook_solutions:
        return
    for path in (Path(app.outdir) / "_sources").rglob("*"):
        if path.suffix == ".ipynb":
            path.write_text(strip_notebook(path.read_text(encoding="utf-8")), encoding="utf-8")
        elif path.is_file():
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            path.write_text(strip_solutions(text), encoding="utf-8", errors="surrogateescape")


def copy_mathjax(app, exception):
    """Copy MathJax's entry script and its lazily loaded parts next to the built pages."""
    source = local_mathjax()
    if exception is not None or source is None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / MATHJAX_STATIC
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / MATHJAX_ENTRY, target / MATHJAX_ENTRY)
    for part in source.iterdir():  # input/, output/ (fonts), ui/ (menu), a11y/, sre/, adaptors/
        if part.is_dir():
            shutil.copytree(part, target / part.name, dirs_exist_ok=True)


def setup(app):
    # A change of mode changes this value, which makes Sphinx re-read (re-execute) every page.
    app.add_config_value("cnnbook_mode", cnnbook.mode.current(), rebuild="env")
    app.add_config_value("cnnbook_solutions", solutions_shown(), rebuild="env")
    app.add_transform(RemoveSolutions)
    app.connect("config-inited", configure)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", strip_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
