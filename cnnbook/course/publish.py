"""``cnnbook publish``: the students' site and the student materials, ready to push; nothing is
pushed from here.

It reads what ``make publish`` builds first: the students' book (``_build/html``, whose chapter
pages link their exercise notebooks, `cnnbook.book.materials`) and the student notebooks of
``cnnbook assign`` (``_build/assignments/student/``). It writes, under ``_build/publish/``:

- ``site/``: the students' book, to serve as it is (GitHub Pages or any web server);
- ``student-materials/``: one ``NN_name/`` folder per chapter (the notebook and its public
  checks in ``tests/``) and what repo2docker builds the notebooks' environment from, so that
  Binder or a JupyterHub runs them: ``runtime.txt`` (the Python version), ``requirements.txt``,
  which installs the wheel of this package in ``wheels/`` with its dependencies (the notebooks
  import ``cnnbook`` and ``otter``), and a README for students.

In each folder it replaces or removes only the files it wrote there before (listed in
``.cnnbook-published.json``; `cnnbook.course.output`), so a clone of the repositories they are
pushed to, with files of the instructor's own, can live there. Nothing written holds a
solution or a hidden check: the site is the students' build and the notebooks are the
students' (a site built with solutions is refused).
"""

import argparse
import posixpath
import subprocess
import sys
import tempfile
from pathlib import Path

from cnnbook.book import materials
from cnnbook.course import output

PROJECT = Path(__file__).resolve().parents[2]  # the clone whose package is published
PYTHON_VERSION = "3.11"  # what repo2docker installs; pyproject.toml asks for 3.11 or later
WHEELS = "wheels"
MANIFEST = ".cnnbook-published.json"  # in each folder: the files cnnbook publish wrote there
SOLUTION_MARK = 'class="solution'  # sphinx-exercise's solution boxes, in an instructors' build
STUDENT_README = """\
# Exercise notebooks

One folder per chapter of the book: the exercise notebook `NN_name/NN_name.ipynb` and its
checks (`tests/`). Open a notebook, replace each `...` with your answer, run that cell, then
the check below it: it says whether the answer is right, gives a hint when it is not, and says
when an exercise has not been attempted yet.

The chapter pages of the book link each notebook, as a download and, where the course set it
up, on Binder or a JupyterHub. To run them on your own machine (Python {python}):

    python -m venv .venv && .venv/bin/pip install -r requirements.txt
    .venv/bin/jupyter lab

`requirements.txt` installs the book's helper package (`{wheels}/`) with what it needs; the
data sets are downloaded and checked on first use. Binder builds the same environment from
`requirements.txt` and `runtime.txt`.
"""


def publish(root, out, make_wheel=None) -> dict[str, Path]:
    """Write out/site and out/student-materials from root's built book and student notebooks;
    make_wheel(folder) writes the package's wheel into folder (default: build_wheel).
    Return the two folders."""
    root, out = Path(root), Path(out)
    html = root / "_build" / "html"
    notebooks = materials.student_notebooks(root / materials.STUDENT_FOLDER)
    if not notebooks:
        raise ValueError(
            f"no student notebooks in {root / materials.STUDENT_FOLDER}; run `cnnbook assign` "
            "first (make publish does)"
        )
    unlinked = [
        name for name in notebooks if not (html / materials.SITE_FOLDER / f"{name}.zip").is_file()
    ]
    if unlinked:
        raise ValueError(
            f"the book in {html} does not link the exercise notebooks of {', '.join(unlinked)}; "
            "build it after `cnnbook assign` (make publish does both)"
        )
    instructors = [
        page for page in sorted(html.rglob("*.html")) if SOLUTION_MARK in page.read_text()
    ]
    if instructors:
        raise ValueError(
            f"{instructors[0]} shows solutions: this is an instructors' build; build the "
            "students' book (without CNNBOOK_SOLUTIONS=1) and publish again"
        )
    site = output.Output(out / "site", MANIFEST, "cnnbook publish")
    _copy(html, materials.handed_out(html), site)
    folder = output.Output(out / "student-materials", MANIFEST, "cnnbook publish")
    for name, source in notebooks.items():
        _copy(source, materials.handed_out(source), folder, under=name)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = (make_wheel or build_wheel)(Path(scratch))
        _copy(wheel.parent, [wheel], folder, under=WHEELS)
    folder.write("requirements.txt", f"./{WHEELS}/{wheel.name}\n")
    folder.write("runtime.txt", f"python-{PYTHON_VERSION}\n")
    folder.write("README.md", STUDENT_README.format(python=PYTHON_VERSION, wheels=WHEELS))
    return {"site": site.folder, "materials": folder.folder}


def _copy(source: Path, paths, target: output.Output, under: str = "") -> None:
    """Copy paths (files under source) into target, under the folder named under."""
    names = {path: posixpath.join(under, path.relative_to(source).as_posix()) for path in paths}
    target.claim(names.values())
    for path, name in names.items():
        target.write(name, path.read_bytes())


def build_wheel(folder) -> Path:
    """Build the wheel of this package, from the clone it runs from, into folder (pip, no
    dependencies); return it."""
    if not (PROJECT / "pyproject.toml").is_file():
        raise ValueError(
            f"cnnbook runs from {PROJECT}, which is not a clone of the project; run `cnnbook "
            "publish` from a clone's environment (make publish does)"
        )
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    result = subprocess.run([*command, "--wheel-dir", str(folder), str(PROJECT)])
    if result.returncode != 0:
        raise ValueError(f"pip could not build the wheel of {PROJECT}; its output is above")
    (wheel,) = Path(folder).glob("cnnbook-*.whl")
    return wheel


def main(argv=None):
    """`cnnbook publish`: write the students' site and the student materials."""
    parser = argparse.ArgumentParser(
        prog="cnnbook publish",
        description="Copy the students' book (site/) and write the student materials "
        "(student-materials/: notebooks, checks, the environment for Binder), ready to push.",
    )
    parser.add_argument("--book", default=".", help="the book's root folder (default: .)")
    parser.add_argument("--out", help="where to write (default: BOOK/_build/publish)")
    args = parser.parse_args(argv)
    out = Path(args.out or Path(args.book) / "_build" / "publish")
    try:
        written = publish(args.book, out)
    except ValueError as error:
        parser.exit(2, f"cnnbook publish: {error}\n")
    for kind, folder in written.items():
        print(f"{kind}: {folder}")
    print("Nothing was pushed; README.md, 'Publishing for students', says where each goes.")
    return 0
