"""From a chapter page to a runnable exercise notebook in one click (README.md, "Publishing for
students"): the students' book links each chapter's notebook and public checks as one zip that
the site itself serves; where _config.yml names the public repository of the student materials,
a link opens the notebook on Binder or a JupyterHub; `cnnbook publish` lays out the site and the
student materials, ready to push. Nothing of it holds a solution or a hidden check.
"""

import json
import shutil
import subprocess
import sys
import time
import types
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest
import test_book
import yaml
from docutils import nodes
from nbclient import NotebookClient
from selenium.webdriver.common.by import By
from submissions import ROOT, file_texts, leaks

from cnnbook.book import materials, sphinx_extension
from cnnbook.course import assignments, publish

CHAPTER = "02_pooling"  # three exercises that need no data and run in seconds
NOTEBOOK = f"{CHAPTER}/{CHAPTER}.ipynb"
REPOSITORY = "https://github.com/course/cnn-exercises"
LABPATH = "labpath=02_pooling%2F02_pooling.ipynb"
browser = test_book.browser  # the browser test's headless Chromium


def write_book(folder, settings=None):
    """A book of CHAPTER alone in folder, the project's configuration with the chapters not
    executed (the exercise notebook's box does not depend on it) and settings added."""
    (folder / "chapters").mkdir(parents=True)
    shutil.copy(ROOT / "chapters" / f"{CHAPTER}.md", folder / "chapters")
    shutil.copy(ROOT / "references.bib", folder)
    (folder / "intro.md").write_text("# A book of one chapter\n")
    part = {"caption": "Chapters", "numbered": True, "chapters": [{"file": f"chapters/{CHAPTER}"}]}
    toc = {"format": "jb-book", "root": "intro", "parts": [part]}
    (folder / "_toc.yml").write_text(yaml.safe_dump(toc))
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    config["sphinx"]["config"].update(settings or {})
    (folder / "_config.yml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The students' book of CHAPTER, built as `make book` builds it: the student notebook
    first (what `cnnbook assign --students-only` writes), then the book. Returns its root."""
    folder = tmp_path_factory.mktemp("book")
    write_book(folder)
    started = time.monotonic()
    written = assignments.assign(folder, folder / "_build" / "assignments", [CHAPTER], True)
    assert written == [CHAPTER]
    assigned = time.monotonic()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(folder)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"assign {assigned - started:.0f} s, build {time.monotonic() - assigned:.0f} s")
    return folder


def check_outputs(notebook):
    """What each grader.check cell printed, by exercise label."""
    return {
        cell.source.split('"')[1]: "".join(
            output.get("text", "") + output.get("data", {}).get("text/plain", "")
            for output in cell.outputs
        )
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.source.startswith("grader.check(")
    }


def run_all(client, notebook):
    """Run every cell from the top in the client's kernel (an error fails the test)."""
    for index, cell in enumerate(notebook.cells):
        client.execute_cell(cell, index)
    return check_outputs(notebook)


def answer_with_the_reference(notebook, exercise):
    """Replace the exercise's answer cells with its reference answer from the chapter."""
    start = next(
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown" and f"### Exercise: {exercise.title}" in cell.source
    )
    end = next(
        index
        for index, cell in enumerate(notebook.cells)
        if cell.source == f'grader.check("{exercise.label}")'
    )
    answers = [
        cell
        for cell in notebook.cells[start:end]
        if "otter_answer_cell" in cell.metadata.get("tags", [])
    ]
    solution = [cell.source for cell in exercise.solution if cell.cell_type == "code"]
    for cell, source in zip(answers, solution, strict=True):
        cell.source = source


def test_the_chapter_page_links_a_notebook_that_runs_and_checks(book, browser, tmp_path):
    started = time.monotonic()
    browser.get((book / "_build" / "html" / "chapters" / f"{CHAPTER}.html").as_uri())
    box = browser.find_element(
        By.CSS_SELECTOR, f"section#exercises > .{sphinx_extension.BOX_CLASS}"
    )
    link = box.find_element(By.CSS_SELECTOR, "a.cnnbook-download")
    assert link.is_displayed() and link.text == "Download the exercise notebook (zip)"
    assert box.find_elements(By.CSS_SELECTOR, "a.cnnbook-launch") == []  # no repository set
    with urllib.request.urlopen(link.get_attribute("href")) as response:
        (tmp_path / "download.zip").write_bytes(response.read())
    with zipfile.ZipFile(tmp_path / "download.zip") as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / CHAPTER
    exercises = assignments.read_exercises(ROOT / "chapters" / f"{CHAPTER}.md")
    assert sorted(path.stem for path in (folder / "tests").glob("*.py")) == sorted(
        exercise.label for exercise in exercises
    )

    notebook = nbformat.read(folder / f"{CHAPTER}.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.reset_execution_trackers()
    with client.setup_kernel():
        blank = run_all(client, notebook)
        answer_with_the_reference(notebook, exercises[0])
        answered = run_all(client, notebook)
    print(f"page, download and two runs: {time.monotonic() - started:.0f} s")

    assert list(blank) == [exercise.label for exercise in exercises]
    for label, output in blank.items():
        assert "NotAttempted" in output and "has no answer yet" in output, (label, output)
    first, *others = exercises
    assert "passed" in answered[first.label] and "NotAttempted" not in answered[first.label]
    for exercise in others:
        assert "NotAttempted" in answered[exercise.label], exercise.label


def test_nothing_the_students_site_serves_holds_a_solution_or_a_hidden_check(book):
    texts = list(file_texts(book / "_build" / "html"))
    assert any(str(path).endswith(f".zip!{NOTEBOOK}") for path, _ in texts)  # zips scanned
    assert leaks(texts, ROOT / "chapters" / f"{CHAPTER}.md") == []


def fake_wheel(folder):
    """Stands in for the package's wheel, which pip builds in a minute, with the network."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "cnnbook-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")
    return wheel


def test_publish_writes_the_site_and_the_student_materials(book, tmp_path):
    out = tmp_path / "publish"
    (out / "student-materials" / ".git").mkdir(parents=True)  # the clone the instructor pushes
    (out / "student-materials" / "LICENSE").write_text("the instructor's")
    publish.publish(book, out, make_wheel=fake_wheel)
    stale = out / "student-materials" / "99_gone" / "99_gone.ipynb"  # from an earlier run
    stale.parent.mkdir()
    stale.write_text("{}")
    listing = out / "student-materials" / publish.MANIFEST
    listing.write_text(json.dumps([*json.loads(listing.read_text()), "99_gone/99_gone.ipynb"]))
    written = publish.publish(book, out, make_wheel=fake_wheel)
    assert written == {"site": out / "site", "materials": out / "student-materials"}
    site, folder = written["site"], written["materials"]
    assert (site / "chapters" / f"{CHAPTER}.html").is_file()
    assert (site / materials.SITE_FOLDER / f"{CHAPTER}.zip").is_file()
    assert sorted(path.name for path in folder.iterdir()) == [
        ".cnnbook-published.json",
        ".git",
        CHAPTER,
        "LICENSE",
        "README.md",
        "requirements.txt",
        "runtime.txt",
        "wheels",
    ]
    assert (folder / "LICENSE").read_text() == "the instructor's"
    assert (folder / NOTEBOOK).is_file() and list((folder / CHAPTER / "tests").glob("*.py"))
    (requirement,) = (folder / "requirements.txt").read_text().split()
    assert (folder / requirement).read_bytes() == b"a wheel"
    assert (folder / "runtime.txt").read_text() == "python-3.11\n"
    assert leaks(file_texts(out), ROOT / "chapters" / f"{CHAPTER}.md") == []


def test_publish_never_replaces_a_file_it_did_not_write(book, tmp_path):
    out = tmp_path / "publish"
    (out / "student-materials").mkdir(parents=True)
    (out / "student-materials" / "README.md").write_text("the instructor's")
    with pytest.raises(ValueError, match="README.md exists and was not written by"):
        publish.publish(book, out, make_wheel=fake_wheel)
    assert (out / "student-materials" / "README.md").read_text() == "the instructor's"


def test_publish_refuses_an_instructors_build(book, tmp_path):
    copy = tmp_path / "book"
    shutil.copytree(book, copy)
    page = copy / "_build" / "html" / "chapters" / f"{CHAPTER}.html"
    page.write_text(page.read_text() + '<div class="solution admonition"></div>')
    with pytest.raises(ValueError, match="instructors' build"):
        publish.publish(copy, tmp_path / "out", make_wheel=fake_wheel)
    (copy / "_build" / "html" / "exercises" / f"{CHAPTER}.zip").unlink()
    with pytest.raises(ValueError, match="does not link the exercise notebooks of 02_pooling"):
        publish.publish(copy, tmp_path / "out", make_wheel=fake_wheel)


def settings(**given):
    """The book's configuration as the extension reads it: no repository unless given."""
    values = {
        "cnnbook_materials_repository": "",
        "cnnbook_materials_branch": "main",
        "cnnbook_jupyterhub_url": "",
        "cnnbook_binderhub_url": materials.BINDERHUB,
    }
    return types.SimpleNamespace(**{**values, **given})


def box_links(config):
    """The links of the exercise notebook's box on CHAPTER's page, by class."""
    box = sphinx_extension.notebook_box(f"chapters/{CHAPTER}", config)
    return {ref["classes"][0]: ref["refuri"] for ref in box.findall(nodes.reference)}


def test_the_box_has_a_launch_link_only_where_a_repository_is_set():
    download = {"cnnbook-download": f"../exercises/{CHAPTER}.zip"}
    assert box_links(settings()) == download
    binder = f"https://mybinder.org/v2/gh/course/cnn-exercises/main?{LABPATH}"
    assert box_links(settings(cnnbook_materials_repository=REPOSITORY)) == {
        **download,
        "cnnbook-launch": binder,
    }


@pytest.mark.parametrize(
    ("repository", "given", "url"),
    [
        (REPOSITORY, {}, f"https://mybinder.org/v2/gh/course/cnn-exercises/main?{LABPATH}"),
        (
            REPOSITORY + ".git",
            {"branch": "fall-2026", "binderhub": "https://binder.example.org/"},
            f"https://binder.example.org/v2/gh/course/cnn-exercises/fall-2026?{LABPATH}",
        ),
        (
            "https://gitlab.example.org/course/exercises.git",
            {"branch": "term/1"},
            "https://mybinder.org/v2/git/https%3A%2F%2Fgitlab.example.org%2Fcourse%2F"
            f"exercises.git/term%2F1?{LABPATH}",
        ),
        (
            REPOSITORY,
            {"jupyterhub": "https://hub.example.edu/"},
            "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com"
            "%2Fcourse%2Fcnn-exercises&branch=main&urlpath=lab%2Ftree%2Fcnn-exercises%2F"
            "02_pooling%2F02_pooling.ipynb",
        ),
    ],
    ids=["binder", "binder-elsewhere", "any-git", "jupyterhub"],
)
def test_the_launch_link_opens_the_notebook(repository, given, url):
    assert materials.launch_url(repository, NOTEBOOK, **given) == url


@pytest.mark.parametrize(
    ("repository", "given", "message"),
    [
        ("github.com/course/cnn-exercises", {}, "not the https address"),
        ("https://github.com/", {}, "not the https address"),
        (REPOSITORY, {"jupyterhub": "hub.example.edu"}, "cnnbook_jupyterhub_url"),
        (REPOSITORY, {"branch": ""}, "give the branch"),
    ],
)
def test_a_wrong_launch_setting_is_refused_with_the_fix(repository, given, message):
    with pytest.raises(ValueError, match=message):
        materials.launch_url(repository, NOTEBOOK, **given)
