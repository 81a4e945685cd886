"""The book builds, and its pages render in a real browser: math typeset, figures loaded, no
tracebacks. Screenshots of every page are saved in _build/screenshots/ for a person to look at.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from submissions import file_texts, leaks

from cnnbook.book import sphinx_extension, toc
from cnnbook.course import assignments

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_HINT = (
    "headless Chromium is needed for this test: on Debian or Ubuntu, "
    "`sudo apt-get install chromium chromium-driver`"
)
# Text of the rendered article with code listings removed, where raw TeX must not survive.
ARTICLE_TEXT_JS = """
const main = document.querySelector('main').cloneNode(true);
main.querySelectorAll('pre, code, mjx-container').forEach(e => e.remove());
return main.innerText;
"""
WAIT_FOR_MATHJAX_JS = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup) { done('no MathJax'); return; }
MathJax.startup.promise.then(() => done('typeset'), e => done('failed: ' + e));
"""


def toc_pages():
    """Return every page of _toc.yml, the root first, as paths without suffix."""
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    chapters = toc.chapters(ROOT, appendix=True)
    return [root] + [chapter.relative_to(ROOT).with_suffix("").as_posix() for chapter in chapters]


@pytest.fixture(scope="module")
def book():
    """Build the book as `make book` does (the student notebooks first, for the pages' download
    boxes; the chapters executed in the current mode) and return its HTML folder."""
    cnnbook = Path(sys.executable).parent / "cnnbook"
    result = subprocess.run(
        [str(cnnbook), "assign", "--students-only"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", "--warningiserror", "--keep-going", str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return HTML


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Selenium and Debian's chromedriver."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser test; {CHROMIUM_HINT}")
        pytest.skip(CHROMIUM_HINT)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
    ]:
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    session.set_script_timeout(60)
    yield session
    session.quit()


def test_every_page_of_the_toc_is_built(book):
    for page in toc_pages():
        assert (book / f"{page}.html").is_file(), page


def test_chapters_show_their_exercises_but_not_the_solutions(book):
    for chapter in toc.chapters(ROOT):
        page = chapter.relative_to(ROOT).with_suffix("").as_posix()
        html = (book / f"{page}.html").read_text()
        assert html.count('class="exercise admonition"') >= 3, f"{page} shows too few exercises"
        assert 'class="solution' not in html, f"{page} shows a solution in the students' book"
        assert "SOLUTION" not in html, f"{page} shows an answer cell in the students' book"


def test_chapters_link_their_exercise_notebook_as_one_zip(book):
    for chapter in toc.chapters(ROOT):
        page = chapter.relative_to(ROOT).with_suffix("").as_posix()
        html = (book / f"{page}.html").read_text()
        link = f'href="../exercises/{chapter.stem}.zip"'
        assert sphinx_extension.BOX_CLASS in html and link in html, f"{page}: no download box"
        with zipfile.ZipFile(book / "exercises" / f"{chapter.stem}.zip") as archive:
            names = archive.namelist()
        assert f"{chapter.stem}/{chapter.stem}.ipynb" in names, names


def test_nothing_the_students_book_serves_holds_a_solution_or_a_hidden_check(book):
    texts = [  # pages, sources, search index, the zips' notebooks and checks; not the themes
        (str(path), text)
        for path, text in file_texts(book)
        if "_static" not in Path(str(path)).relative_to(book).parts
    ]
    assert any(".zip!" in path for path, _ in texts)
    taught = "\n".join(  # what the pages and public checks teach, where an answer's line may be
        [sphinx_extension.strip_solutions(chapter.read_text()) for chapter in toc.chapters(ROOT)]
        + [
            check
            for chapter in toc.chapters(ROOT)
            for exercise in assignments.read_exercises(chapter)
            for check in exercise.public_checks
        ]
    )
    for chapter in toc.chapters(ROOT):
        found = leaks(texts, chapter, taught)
        assert found == [], f"{chapter.name}: {found[:5]}"


def test_chapters_and_their_exercises_are_numbered(book):
    for number, chapter in enumerate(toc.chapters(ROOT), start=1):
        page = chapter.relative_to(ROOT).with_suffix("").as_posix()
        html = (book / f"{page}.html").read_text()
        assert f'<span class="section-number">{number}. </span>' in html, page
        assert f"Exercise {number}.1" in html and f"Exercise {number}.3" in html, (
            f"{page}: its exercises should be numbered {number}.1, {number}.2, ..."
        )


def test_mathjax_is_served_from_the_book_itself(book):
    assert (book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    pages_with_math = 0
    for page in toc_pages():
        html = (book / f"{page}.html").read_text()
        assert "cdn.jsdelivr.net" not in html, f"{page} loads MathJax from the web"
        pages_with_math += "_static/mathjax/tex-chtml.js" in html
    assert pages_with_math >= 2


@pytest.mark.parametrize("page", toc_pages())
def test_page_renders_in_a_browser(book, browser, page):
    browser.get((book / f"{page}.html").as_uri())
    mathjax = browser.execute_async_script(WAIT_FOR_MATHJAX_JS)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(max(height, 800), 12000))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{page.replace('/', '_')}.png"))

    math_total = browser.execute_script("return document.querySelectorAll('.math').length")
    math_typeset = browser.execute_script(
        "return [...document.querySelectorAll('.math')]"
        ".filter(e => e.querySelector('mjx-container') || e.tagName === 'MJX-CONTAINER').length"
    )
    if math_total:
        assert mathjax == "typeset"
        assert math_typeset == math_total, f"{math_total - math_typeset} formulas not typeset"
    text = browser.execute_script(ARTICLE_TEXT_JS)
    for raw in ["\\(", "\\[", "$$"]:
        assert raw not in text, f"raw TeX {raw!r} left on {page}"

    broken = browser.execute_script(
        "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.src)"
    )
    assert broken == [], f"figures that did not load on {page}: {broken}"
    outputs = browser.execute_script(
        "return [...document.querySelectorAll('.cell_output')].map(e => e.innerText)"
    )
    assert not [o for o in outputs if "Traceback" in o], f"a cell output on {page} is a traceback"
