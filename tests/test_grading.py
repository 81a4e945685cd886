"""`cnnbook grade` on a folder of real submissions: every kind of trouble ends in the CSV with
the expected score and status, the batch finishes, and grading twice gives the same scores.
"""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from submissions import NOTES, TIMEOUT, TROUBLE_CHAPTER, run_cnnbook

from cnnbook.course import grading, sandbox
from cnnbook.datasets import registry

QUESTIONS = [
    "parameters-by-hand",
    "parameters-to-keras",
    "parameters-from-keras",
    "parameters-budget",
]
POINTS = dict(zip(QUESTIONS, [2, 2, 2, 3], strict=True))


def results(graded, student):
    """{question: (score, status, message)} of one student in the CSV."""
    return {
        row["question"]: (float(row["score"]), row["status"], row["message"])
        for row in graded["rows"]
        if row["student"] == student
    }


def test_the_csv_has_a_row_per_student_and_question(graded):
    students = {path.stem for path in graded["folder"].iterdir()}
    assert {row["student"] for row in graded["rows"]} == students
    for row in graded["rows"]:
        assert list(row) == grading.CSV_COLUMNS
    assert list(results(graded, "exception")) == QUESTIONS


def test_the_correct_submission_gets_full_marks(graded):
    assert results(graded, f"{TROUBLE_CHAPTER}-reference") == {
        question: (POINTS[question], "correct", "") for question in QUESTIONS
    }


def test_a_blank_submission_gets_zero_and_not_attempted(graded):
    rows = results(graded, f"{TROUBLE_CHAPTER}-blank")
    assert [score for score, _, _ in rows.values()] == [0, 0, 0, 0]
    assert {status for _, status, _ in rows.values()} == {"not attempted"}
    assert rows["parameters-by-hand"][2].startswith("pool_shape has no answer yet")


def test_an_exception_costs_only_its_own_exercise(graded):
    rows = results(graded, "exception")
    assert rows["parameters-by-hand"] == (
        0,
        "error",
        "a cell raised ZeroDivisionError: division by zero",
    )
    for question in QUESTIONS[1:]:
        assert rows[question] == (POINTS[question], "correct", "")


def test_an_endless_loop_is_stopped_at_the_time_limit(graded):
    rows = results(graded, "endless-loop")
    assert {(score, status) for score, status, _ in rows.values()} == {(0, "timed out")}
    assert f"stopped after {TIMEOUT} s" in rows["parameters-by-hand"][2]
    assert graded["seconds"] < 4 * TIMEOUT


def test_a_memory_hog_is_stopped_in_its_cell(graded):
    rows = results(graded, "memory-hog")
    assert rows["parameters-to-keras"][:2] == (0, "out of memory")
    for question in ("parameters-by-hand", "parameters-from-keras", "parameters-budget"):
        assert rows[question] == (POINTS[question], "correct", "")


def test_megabytes_of_output_do_not_matter(graded):
    rows = results(graded, "print-flood")
    assert rows == {question: (POINTS[question], "correct", "") for question in QUESTIONS}


@pytest.mark.parametrize("student", ["not-a-notebook", "truncated"])
def test_a_file_that_is_no_notebook_gets_an_error_row(graded, student):
    ((question, (score, status, message)),) = results(graded, student).items()
    assert (question, score, status) == ("", 0, "invalid")
    assert message.startswith("not a readable notebook")


def test_the_feedback_gives_hints_not_answers(graded):
    feedback = (graded["out"] / "feedback" / "exception.md").read_text()
    assert "Score: 7 of 9." in feedback
    assert "## Counting by hand: 0 of 2, error" in feedback
    assert "- A cell raised ZeroDivisionError: division by zero" in feedback
    assert "## A parameter budget: 3 of 3, correct" in feedback
    blank = (graded["out"] / "feedback" / f"{TROUBLE_CHAPTER}-blank.md").read_text()
    assert "Score: 0 of 9." in blank
    assert "not attempted" in blank and "15, 15, 16" not in blank and "448" not in blank
    timed_out = (graded["out"] / "feedback" / "endless-loop.md").read_text()
    assert "Not graded (timed out)" in timed_out


def test_the_batch_reports_progress(graded):
    total = len(list(graded["folder"].iterdir()))
    assert f"[{total}/{total}]" in graded["log"]
    assert f"grading {total} submissions" in graded["log"]


def test_the_intruder_reads_writes_and_connects_to_nothing_outside(graded):
    if not sandbox.sandbox_available():
        hint = "the sandbox needs bubblewrap: `sudo apt-get install bubblewrap`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test the sandbox; {hint}")
        pytest.skip(hint)
    rows = results(graded, "intruder")
    assert rows["parameters-by-hand"][:2] == (0, "not attempted")  # read no secret
    assert rows["parameters-to-keras"][:2] == (0, "not attempted")  # reached no host port
    assert rows["parameters-from-keras"] == (2, "correct", "")  # after trying to write
    assert rows["parameters-budget"] == (3, "correct", "")
    notes, others, *new_files = map(Path, graded["paths"]["outside"])
    assert notes.read_text() == NOTES
    assert "the intruder was here" not in others.read_text()
    assert [path for path in new_files if path.exists()] == []


def test_grading_the_same_folder_twice_gives_the_same_scores(graded, tmp_path):
    again = tmp_path / "again"
    again.mkdir()
    for student in ("exception", f"{TROUBLE_CHAPTER}-blank", "truncated"):
        shutil.copy(graded["folder"] / f"{student}.ipynb", again)
    result = run_cnnbook(
        "grade", again, "--bundles", graded["bundles"], "--out", tmp_path / "grades"
    )
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "grades" / "scores.csv", newline="") as stream:
        second = list(csv.DictReader(stream))
    first = [row for row in graded["rows"] if row["student"] in {p.stem for p in again.iterdir()}]
    assert second == first


def test_the_command_refuses_a_missing_folder(tmp_path):
    result = run_cnnbook("grade", tmp_path / "nothing", "--bundles", tmp_path)
    assert result.returncode == 2
    assert "is not a folder" in result.stderr


def test_a_graded_notebook_reads_data_from_the_graders_user_cache(tmp_path, monkeypatch):
    """An instructor whose MNIST was downloaded into the user cache, with no CNNBOOK_DATA_DIR."""
    if not sandbox.sandbox_available():
        pytest.skip("bubblewrap is not installed: sudo apt-get install bubblewrap")
    (source,) = [f for _, f in registry.search_dirs() if (f / "mnist.npz").is_file()][:1]
    cache, scratch = tmp_path / "cache", tmp_path / "scratch"
    cache.mkdir(), scratch.mkdir()
    shutil.copy(source / "mnist.npz", cache / "mnist.npz")
    monkeypatch.delenv("CNNBOOK_DATA_DIR", raising=False)
    monkeypatch.setenv("CNNBOOK_CACHE_DIR", str(cache))
    labels = "import cnnbook.data; print(mnist.load_data()[1][1][:5].tolist())"
    inside = Path(sandbox.SANDBOX_HOME)
    result = subprocess.run(
        [*sandbox.bwrap_prefix(scratch), sys.executable, "-c", labels],
        env=sandbox.environment(inside),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["[7,", "2,", "1,", "0,", "4]"]  # MNIST's first test labels
    assert list(scratch.iterdir()) == []  # nothing downloaded into the notebook's own home
