"""The chapters' exercises: every chapter has at least three, each with public and hidden
checks; no check passes on the blank notebook and every check passes on the reference answers;
the checks in the student's notebook give immediate feedback; the student materials hold no
solutions; and the book shows the exercises, with solutions only in the instructor build.
"""

import html
import json
import re
import shutil

import pytest
from nbclient import NotebookClient
from submissions import (
    MYST_HEADER,
    ROOT,
    TROUBLE_CHAPTER,
    build_book,
    file_texts,
    reference_answers,
    run_cnnbook,
    small_book,
    solution_lines,
    submission,
)

from cnnbook import exercises
from cnnbook.book import sphinx_extension, toc
from cnnbook.course import assignments, grading

CHAPTERS = toc.chapters(ROOT)


def chapter_ids(path):
    """A test id for a chapter path."""
    return path.stem


@pytest.mark.parametrize("chapter", CHAPTERS, ids=chapter_ids)
def test_every_chapter_ends_with_at_least_three_exercises(chapter):
    found = assignments.read_exercises(chapter)
    assert len(found) >= 3, f"{chapter.name} has {len(found)} exercises under '## Exercises'"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=chapter_ids)
def test_every_exercise_has_public_and_hidden_checks(chapter):
    for exercise in assignments.read_exercises(chapter):
        assert exercise.public_checks, f"{exercise.label} has no public check"
        assert exercise.hidden_checks, f"{exercise.label} has no hidden check"
        assert exercise.points == len(exercise.public_checks) + len(exercise.hidden_checks)


def graded_record(graded, chapter, kind):
    """The grading result of a chapter's reference or blank notebook."""
    stem = grading.file_stem(f"{chapter.stem}-{kind}")
    path = graded["out"] / "results" / f"{stem}.json"
    assert path.is_file(), f"{chapter.stem} was not graded; does it have exercises?"
    record = json.loads(path.read_text())
    assert record["status"] == "graded", record["detail"]
    labels = {exercise.label for exercise in assignments.read_exercises(chapter)}
    assert set(record["questions"]) == labels
    return record


def checks(record, passed):
    """(question, check number) of every check that passed (or failed)."""
    return [
        (name, number)
        for name, question in record["questions"].items()
        for number, check in enumerate(question["checks"], start=1)
        if check["passed"] is passed
    ]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=chapter_ids)
def test_no_check_passes_on_the_blank_student_notebook(graded, chapter):
    assert checks(graded_record(graded, chapter, "blank"), passed=True) == []


def test_the_reference_answers_pass_every_check(graded):
    chapter = ROOT / "chapters" / f"{TROUBLE_CHAPTER}.md"
    assert checks(graded_record(graded, chapter, "reference"), passed=False) == []


@pytest.mark.parametrize("chapter", CHAPTERS, ids=chapter_ids)
def test_the_bundle_holds_every_check_of_the_chapter(assigned, chapter):
    """`cnnbook assign` ran every check on the reference's exported answers, or it failed."""
    bundle = json.loads((assigned / "grading" / chapter.stem / "questions.json").read_text())
    exercises = assignments.read_exercises(chapter)
    assert [q["name"] for q in bundle["questions"]] == [e.label for e in exercises]
    for question, exercise in zip(bundle["questions"], exercises, strict=True):
        sources = [(c["source"], c["hidden"]) for c in question["checks"]]
        assert sources == [(c, False) for c in exercise.public_checks] + [
            (c, True) for c in exercise.hidden_checks
        ]


def test_the_student_materials_hold_no_solutions_and_no_hidden_checks(assigned):
    for bundle in sorted((assigned / "grading").iterdir()):
        chapter = ROOT / "chapters" / f"{bundle.name}.md"
        student = assigned / "student" / bundle.name
        text = "\n".join(text for _, text in file_texts(student))
        assert "SOLUTION" not in text
        exercises = assignments.read_exercises(chapter)
        for exercise in exercises:
            for check in exercise.public_checks:
                assert check.splitlines()[0] in text
            for check in exercise.hidden_checks:
                assert check.splitlines()[0] not in text
            assert [line for line in solution_lines(exercise, exercises) if line in text] == []


def test_a_check_in_the_notebook_says_correct_wrong_or_not_attempted(assigned, tmp_path):
    folder = tmp_path / TROUBLE_CHAPTER
    shutil.copytree(assigned / "student" / TROUBLE_CHAPTER, folder)
    wrong = "pool_shape = (15, 15, 16)\nconv_parameters = 3 * 3 * 3 * 16"
    right = reference_answers(assigned, TROUBLE_CHAPTER)[2]
    notebook = submission(assigned, TROUBLE_CHAPTER, False, {0: wrong, 2: right})
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(folder)}}).execute()
    feedback = {}
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith("grader.check("):
            name = cell.source.split('"')[1]
            feedback[name] = "".join(
                output.get("data", {}).get("text/plain", "") for output in cell.outputs
            )
    assert "leaves out the biases" in feedback["parameters-by-hand"]
    assert "448" not in feedback["parameters-by-hand"]
    assert "NotAttempted: build_model has no answer yet" in feedback["parameters-to-keras"]
    assert "All test cases passed!" in feedback["parameters-from-keras"]
    assert "NotAttempted: counts has no answer yet" in feedback["parameters-budget"]


@pytest.mark.parametrize(
    ("answers", "attempted"),
    [
        ({"x": ...}, False),
        ({"x": None}, False),
        ({"x": {1: ..., 2: None}}, False),
        ({"x": 0}, True),
        ({"x": []}, True),
        ({"x": (1, ...)}, True),
    ],
)
def test_require_tells_a_placeholder_from_an_answer(answers, attempted):
    if attempted:
        exercises.require(**answers)
    else:
        with pytest.raises(exercises.NotAttempted, match="x has no answer yet"):
            exercises.require(**answers)


EXERCISE = """
## Exercises

```{code-cell} ipython3
import math
```

:::{exercise} Square roots
:label: square-root

Set `root` to the square root of 2.
:::

:::{solution-start} square-root
:::

```{code-cell} ipython3
root = math.sqrt(2)  # SOLUTION
```
"""
PUBLIC = """
```{code-cell} ipython3
:tags: [public-check]

def check_root(root):
    assert abs(root**2 - 2) < 1e-9, "square your root: it should give 2"


check_root(root)
```
"""
HIDDEN = PUBLIC.replace("public-check", "hidden-check").replace("check_root", "check_exactly")
END = "\n:::{solution-end}\n:::\n"


def write_chapter(folder, body):
    """A MyST chapter with the given body, in folder."""
    path = folder / "99_roots.md"
    path.write_text(MYST_HEADER + "# Roots\n" + body)
    return path


def test_an_exercise_is_read_with_its_checks(tmp_path):
    (exercise,) = assignments.read_exercises(
        write_chapter(tmp_path, EXERCISE + PUBLIC + HIDDEN + END)
    )
    assert (exercise.label, exercise.title, exercise.points) == ("square-root", "Square roots", 2)
    assert exercise.prompt == "Set `root` to the square root of 2."
    assert [cell.source for cell in exercise.solution] == ["root = math.sqrt(2)  # SOLUTION"]


def test_a_chapter_without_exercises_has_none(tmp_path):
    assert assignments.read_exercises(write_chapter(tmp_path, "Just prose.\n")) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (EXERCISE + PUBLIC + END, "has no hidden-check"),
        (EXERCISE + HIDDEN + END, "has no public-check"),
        (EXERCISE + PUBLIC + HIDDEN, "has no solution-end"),
        (
            EXERCISE.replace("solution-start} square-root", "solution-start} other-label") + END,
            "does not follow",
        ),
        (
            EXERCISE + PUBLIC.replace("\n\ncheck_root(root)", "\nprint(1)") + HIDDEN + END,
            "one function",
        ),
        (EXERCISE.replace(":label: square-root\n", "") + END, "needs a :label:"),
        (
            EXERCISE.replace("math.sqrt(2)  #", "math.sqrt(\n    2\n)  #") + PUBLIC + HIDDEN + END,
            "is not a whole statement; keep a `# SOLUTION` answer on one line",
        ),
    ],
    ids=[
        *("no-hidden", "no-public", "no-end", "wrong-label", "not-a-function", "no-label"),
        "answer-spans-lines",
    ],
)
def test_a_malformed_exercise_is_refused_with_the_fix(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        assignments.read_exercises(write_chapter(tmp_path, body))


def write_book(folder, answers):
    """A book in folder whose chapters (answers: name -> reference answer, marked `# SOLUTION`
    on its last line) each hold the square-root exercise with that answer."""
    toc = "".join(f"  - file: {name}\n" for name in answers)
    (folder / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n" + toc)
    for name, answer in answers.items():
        exercise = EXERCISE.replace("root = math.sqrt(2)", answer)
        (folder / f"{name}.md").write_text(
            MYST_HEADER + f"# {name}\n" + exercise + PUBLIC + HIDDEN + END
        )


def test_chapters_assigned_side_by_side_report_a_reference_that_fails_its_checks(tmp_path):
    """Two chapters at a time, each with its own kernel: the good one is written, the bad one
    named with the check its reference answer fails."""
    write_book(tmp_path, {"good": "root = math.sqrt(2)", "bad": "root = 1.5"})
    result = run_cnnbook("assign", "--book", tmp_path, "--jobs", 2)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "bad.md: the reference answers fail their own checks" in result.stderr
    assert "check_root" in result.stderr and "check_exactly" in result.stderr
    questions = tmp_path / "_build" / "assignments" / "grading" / "good" / "questions.json"
    assert [q["name"] for q in json.loads(questions.read_text())["questions"]] == ["square-root"]
    assert not (tmp_path / "_build" / "assignments" / "grading" / "bad").exists()


def test_a_reference_answer_that_ends_its_kernel_is_named(tmp_path):
    write_book(tmp_path, {"dead": "import os\nroot = os._exit(1)"})
    result = run_cnnbook("assign", "--book", tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "dead.md: the kernel died while it ran the reference answers" in result.stderr
    assert "Traceback" not in result.stderr


def build_small_book(folder, solutions):
    """Build a one-page book with an exercise, with or without solutions; return its HTML."""
    small_book(folder, "# Roots\n" + EXERCISE + PUBLIC + HIDDEN + END)
    return build_book(folder, CNNBOOK_SOLUTIONS="1" if solutions else "0")


def text_of(page):
    """The text of an HTML page, tags removed (code is highlighted token by token)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_the_book_shows_solutions_only_in_the_instructor_build(tmp_path):
    students_site = build_small_book(tmp_path / "students", solutions=False)
    instructors_site = build_small_book(tmp_path / "instructors", solutions=True)
    students = (students_site / "page.html").read_text()
    instructors = (instructors_site / "page.html").read_text()
    for path, text in file_texts(students_site):  # downloads, sources, search index, zips
        assert "math.sqrt(2)" not in text and "check_exactly" not in text, path
    assert (students_site / "_sources" / "page.md").is_file()  # the download, stripped
    assert "check_exactly" in (instructors_site / "_sources" / "page.md").read_text()
    for page in (students, instructors):
        assert 'class="exercise admonition"' in page
    assert "math.sqrt(2)" not in text_of(students) and "check_exactly" not in text_of(students)
    assert 'class="solution admonition"' in instructors
    assert "math.sqrt(2)" in text_of(instructors) and "check_exactly" in text_of(instructors)


def test_the_solutions_switch_accepts_only_0_or_1(monkeypatch):
    monkeypatch.setenv("CNNBOOK_SOLUTIONS", "yes")
    with pytest.raises(ValueError, match="set it to 1 for the instructor build"):
        sphinx_extension.solutions_shown()
    monkeypatch.setenv("CNNBOOK_SOLUTIONS", "1")
    assert sphinx_extension.solutions_shown()
