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
- A chapter whose exercise notebook ``cnnbook assign`` wrote (``_build/assignments/student/``;
  ``make book`` writes it first) gets a box at the top of its Exercises section: a download of
  that notebook with its public checks, one zip served by the site, and, where ``_config.yml``
  names the public repository of the student materials, a link that opens the notebook on
  Binder or a JupyterHub (`cnnbook.book.materials`; README.md, "Publishing for students").
"""

import json
import os
import posixpath
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx_exercise.nodes import solution_node

import cnnbook.mode
from cnnbook.book import executions, materials

MATHJAX_ENTRY = "tex-chtml.js"
MATHJAX_STATIC = "mathjax"  # folder under the build's _static/
# From a solution-start directive to the closing fence of its solution-end directive.
SOLUTION = re.compile(
    r"^(:{3,})\{solution-start\}.*?^:{3,}\{solution-end\}[^\n]*\n:{3,}[^\n]*(\n|$)",
    re.MULTILINE | re.DOTALL,
)
SOLUTION_MARK = re.compile(r"\{solution-(start|end)\}")
EXERCISES_TITLE = "Exercises"  # the section the exercise notebook's box opens
BOX_CLASS = "cnnbook-exercise-notebook"
logger = logging.getLogger(__name__)


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
    config.nb_execution_cache_path = str(executions.cache_path(app.srcdir, config.cnnbook_mode))


def find_student_notebooks(app, config):
    """Record which chapters have an exercise notebook to link (a change rewrites the pages)."""
    folder = Path(app.srcdir) / materials.STUDENT_FOLDER
    config.cnnbook_exercise_notebooks = sorted(materials.student_notebooks(folder))
    if config.cnnbook_materials_repository:  # a wrong address stops the build here
        materials.launch_url(**launch_settings(config), notebook="x.ipynb")


def launch_settings(config) -> dict:
    """The launch link's settings from the book's configuration (README.md, "Publishing")."""
    return {
        "repository": config.cnnbook_materials_repository,
        "branch": config.cnnbook_materials_branch,
        "jupyterhub": config.cnnbook_jupyterhub_url,
        "binderhub": config.cnnbook_binderhub_url,
    }


def notebook_box(docname, config) -> nodes.admonition:
    """The box that links a chapter's exercise notebook: its zip, and where to launch it."""
    name = posixpath.basename(docname)
    notebook = f"{name}/{name}.ipynb"
    download = nodes.paragraph()
    download += nodes.reference(
        "",
        "Download the exercise notebook (zip)",
        refuri=materials.zip_href(docname),
        classes=["cnnbook-download"],
    )
    download += nodes.Text(": unzip it and open ")
    download += nodes.literal(text=notebook)
    download += nodes.Text(" in Jupyter, in the book’s Python environment (with its ")
    download += nodes.literal(text="cnnbook")
    download += nodes.Text(" package); the checks in ")
    download += nodes.literal(text="tests/")
    download += nodes.Text(" beside it tell you whether each answer is right.")
    box = nodes.admonition("", nodes.title(text="Exercise notebook"), download)
    box["classes"] += ["note", BOX_CLASS]
    if config.cnnbook_materials_repository:
        launch = nodes.paragraph()
        where = "the JupyterHub" if config.cnnbook_jupyterhub_url else "Binder"
        launch += nodes.Text("Or run it in your browser, nothing to install: ")
        launch += nodes.reference(
            "",
            f"open the notebook on {where}",
            refuri=materials.launch_url(**launch_settings(config), notebook=notebook),
            classes=["cnnbook-launch"],
        )
        launch += nodes.Text(".")
        box += launch
    return box


def link_exercise_notebook(app, doctree, docname):
    """Put the exercise notebook's box at the top of a chapter's Exercises section."""
    if app.builder.format != "html":
        return
    if posixpath.basename(docname) not in app.config.cnnbook_exercise_notebooks:
        return
    for section in doctree.findall(nodes.section):
        if section[0].astext() == EXERCISES_TITLE:
            section.insert(1, notebook_box(docname, app.config))
            return
    logger.info(f"{docname}: an exercise notebook but no {EXERCISES_TITLE} section to link it")


def write_exercise_zips(app, exception):
    """Zip each linked chapter's exercise notebook and checks into the site's exercises/."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / materials.SITE_FOLDER
    shutil.rmtree(target, ignore_errors=True)
    folders = materials.student_notebooks(Path(app.srcdir) / materials.STUDENT_FOLDER)
    pages = {posixpath.basename(docname) for docname in app.env.found_docs}
    for name in app.config.cnnbook_exercise_notebooks:
        if name in pages and name in folders:
            materials.write_zip(folders[name], target / f"{name}.zip")


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
    # Where the student materials are published, for the launch link (README.md, "Publishing").
    app.add_config_value("cnnbook_materials_repository", "", rebuild="html")
    app.add_config_value("cnnbook_materials_branch", "main", rebuild="html")
    app.add_config_value("cnnbook_jupyterhub_url", "", rebuild="html")
    app.add_config_value("cnnbook_binderhub_url", materials.BINDERHUB, rebuild="html")
    # Set by find_student_notebooks: the chapters whose exercise notebook the pages link.
    app.add_config_value("cnnbook_exercise_notebooks", [], rebuild="html")
    app.add_transform(RemoveSolutions)
    app.connect("config-inited", configure)
    app.connect("config-inited", find_student_notebooks)
    app.connect("doctree-resolved", link_exercise_notebook)
    app.connect("build-finished", write_exercise_zips)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", strip_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
