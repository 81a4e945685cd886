"""`cnnbook grade` on a folder of real submissions: every kind of trouble ends in the CSV with
the expected score and status, the batch finishes, and grading twice gives the same scores.
"""

import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from submissions import NOTES, ROOT, TIMEOUT, TROUBLE_CHAPTER, leftovers, run_cnnbook

from cnnbook.course import assignments, grading, sandbox
from cnnbook.datasets import registry

QUESTIONS = [
    "parameters-by-hand",
    "parameters-to-keras",
    "parameters-from-keras",
    "parameters-budget",
]
POINTS = dict(zip(QUESTIONS, [2, 2, 2, 3], strict=True))


def feedback_of(graded, student):
    """A student's feedback file."""
    return (graded["out"] / "feedback" / f"{grading.file_stem(student)}.md").read_text()


def results(graded, student):
    """{question: (score, status, message)} of one student in the CSV."""
    return {
        row["question"]: (float(row["score"]), row["status"], row["message"])
        for row in graded["rows"]
        if row["student"] == student
    }


def test_the_csv_has_a_row_per_student_and_question(graded):
    students = {
        path.relative_to(graded["folder"]).as_posix().removesuffix(".ipynb")
        for path in graded["folder"].rglob("*")
        if not path.is_dir() or path.is_symlink()
    }
    assert {row["student"].removeprefix("'") for row in graded["rows"]} == {
        name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for name in students
    }
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
    assert rows["parameters-by-hand"] == (0, "error", "a cell raised ZeroDivisionError")
    for question in QUESTIONS[1:]:
        assert rows[question] == (POINTS[question], "correct", "")


def test_an_endless_loop_is_stopped_at_the_time_limit(graded):
    rows = results(graded, "endless-loop")
    assert {(score, status) for score, status, _ in rows.values()} == {(0, "timed out")}
    assert f"stopped after {TIMEOUT} s" in rows["parameters-by-hand"][2]
    stem = grading.file_stem("endless-loop")
    record = json.loads((graded["out"] / "results" / f"{stem}.json").read_text())
    assert record["seconds"] < TIMEOUT + 30  # stopped at the limit, then checked nothing


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
    feedback = feedback_of(graded, "exception")
    assert "Score: 7 of 9." in feedback
    assert "## Counting by hand: 0 of 2, error" in feedback
    assert "- A cell raised ZeroDivisionError." in feedback
    assert "## A parameter budget: 3 of 3, correct" in feedback
    blank = feedback_of(graded, f"{TROUBLE_CHAPTER}-blank")
    assert "Score: 0 of 9." in blank
    assert "not attempted" in blank and "15, 15, 16" not in blank and "448" not in blank
    timed_out = feedback_of(graded, "endless-loop")
    assert "Not graded (timed out)" in timed_out


def test_the_batch_reports_progress(graded):
    total = len({row["student"] for row in graded["rows"]}) - 1  # the link is refused at once
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
    for student in ("exception", "truncated"):
        shutil.copy(graded["folder"] / f"{student}.ipynb", again)
    result = run_cnnbook(
        "grade", again, "--bundles", graded["bundles"], "--out", tmp_path / "grades"
    )
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "grades" / "scores.csv", newline="") as stream:
        second = list(csv.DictReader(stream))
    first = [row for row in graded["rows"] if row["student"] in {p.stem for p in again.iterdir()}]
    assert second == first


def test_the_next_run_removes_what_a_killed_grader_left_and_grades_as_usual(graded):
    killed = graded["killed"]  # SIGKILLed midway, in the same --out (conftest.py)
    assert [path for path in killed["left"] if "/cnnbook-grade-" in path]  # its scratch folder
    if sandbox.is_root():
        assert [path for path in killed["left"] if path.startswith("mount ")]  # its tmpfs
    assert "removed what a grader that was killed left" in graded["log"]
    assert leftovers(killed["pid"]) == []
    assert results(graded, "not-a-notebook")[""][1] == "invalid"  # its result replaced, not kept


def test_a_cpu_hog_pushes_no_notebook_graded_beside_it_past_its_time_limit(graded):
    """The endless loop spins in 33 processes for its whole time limit while the other job
    slot grades the notebooks after it, "exception" first; each submission has one core, so
    none of them is slowed down (without that cap, "exception" took 32 to 43 s here, at the
    limit), times out or has to be graded again alone, and the honest ones keep their marks."""
    if not sandbox.is_root() or not cgroups_work():
        pytest.skip("a submission's CPU share is capped only by a cgroup of its own (root)")
    again = re.findall(r"grading '([^']*)' again, alone", graded["log"])
    assert sorted(again) == ["endless-loop", "killer"]  # timed out; ended its own kernel
    assert results(graded, "exception")["parameters-budget"] == (3, "correct", "")
    assert re.search(r"'exception': 7/9 graded", graded["log"])  # at its first try
    records = [json.loads(path.read_text()) for path in graded["out"].glob("results/*.json")]
    seconds = {r["student"]: r["seconds"] for r in records if r.get("status") == "graded"}
    assert seconds["exception"] < 2 * statistics.median(seconds.values())  # as if alone


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
    labels = "from cnnbook.datasets import mnist; print(mnist.load_data()[1][1][:5].tolist())"
    for name in sandbox.WRITABLE:
        (scratch / name).mkdir()
    user = sandbox.slot_user(0)
    if user is not None:
        for path in (scratch, *scratch.iterdir()):
            os.chown(path, user, user)
    result = subprocess.run(
        [*sandbox.bwrap_prefix(scratch, user), sys.executable, "-c", labels],
        env=sandbox.environment(Path(sandbox.SANDBOX_HOME), "test"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["[7,", "2,", "1,", "0,", "4]"]  # MNIST's first test labels
    assert list(scratch.rglob("*.npz")) == []  # nothing downloaded into its own folders


# --- dishonest submissions (tests/submissions.py: attacks) ------------------------------------


@pytest.mark.parametrize("student", ["forger", "killer"])
def test_a_blank_notebook_cannot_forge_its_marks(graded, student):
    rows = results(graded, student)
    assert list(rows) == QUESTIONS
    assert [score for score, _, _ in rows.values()] == [0, 0, 0, 0]


def test_marks_go_to_no_other_student_and_never_above_the_maximum(graded):
    assert "victim" not in {row["student"] for row in graded["rows"]}
    for row in graded["rows"]:
        assert 0 <= float(row["score"]) <= float(row["max_score"])


def test_the_feedback_quotes_no_hidden_check_and_no_file_of_the_host(graded):
    hidden = [
        check.splitlines()[0].removeprefix("def ").partition("(")[0]
        for exercise in assignments.read_exercises(ROOT / "chapters" / f"{TROUBLE_CHAPTER}.md")
        for check in exercise.hidden_checks
    ]
    mine = graded["paths"]["instructor"][1]
    texts = [path.read_text() for path in (graded["out"] / "feedback").iterdir() if path != mine]
    texts.append((graded["out"] / "scores.csv").read_text())
    for text in texts:
        assert not [name for name in hidden if name in text]
        assert NOTES.strip() not in text
    assert results(graded, "smuggler")["parameters-to-keras"][:2] == (0, "error")


def test_a_base_exception_costs_only_its_own_exercise(graded):
    rows = results(graded, "base-exception")
    assert rows["parameters-to-keras"][0] == 0
    for question in ("parameters-by-hand", "parameters-from-keras", "parameters-budget"):
        assert rows[question] == (POINTS[question], "correct", "")


def cgroups_work():
    """True when the grader can give a submission a cgroup of its own here."""
    cgroup = sandbox.Cgroup(sandbox.Limits())
    cgroup.remove()
    return cgroup.enabled


@pytest.mark.parametrize("student", ["fork-bomb", "memory-children", "tmpfs-filler"])
def test_limits_hold_for_the_whole_submission(graded, student):
    if not sandbox.is_root():
        pytest.skip("per-submission limits need root (a user per slot, cgroups, a sized tmpfs)")
    if student != "fork-bomb" and not cgroups_work():
        pytest.skip("the memory of a whole submission is capped only by a cgroup of its own")
    assert results(graded, student)["parameters-to-keras"][0] == 0  # answered only past a limit


def test_a_linked_submission_is_refused_without_quoting_its_target(graded):
    ((question, (score, status, message)),) = results(graded, "linked").items()
    assert (question, score, status) == ("", 0, "invalid")
    assert "symbolic link" in message and "parameters" not in message


def test_odd_names_get_safe_unique_files_and_formulas_do_not_run(graded):
    students = {row["student"] for row in graded["rows"]}
    assert "'=HYPERLINK(0)" in students and "=HYPERLINK(0)" not in students
    assert {"a/b", "a_b", "x" * 200, "caf\ufffd"} <= students
    stems = [path.name for path in (graded["out"] / "feedback").iterdir()]
    assert len(stems) == len(set(stems)) == len(students) + 1  # and the instructor's own file
    assert all(len(stem) < 100 and "/" not in stem for stem in stems)


def test_the_output_folder_keeps_the_instructors_files(graded):
    for path in graded["paths"]["instructor"]:
        assert path.read_text() == NOTES


# --- the host's parts, without a sandbox -------------------------------------------------------


def test_csv_cells_never_start_a_formula():
    assert [grading._cell(text) for text in ("=1+1", "+1", "-1", "@x", "ok", 2.5)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@x",
        "ok",
        "2.5",
    ]


def test_file_names_are_safe_and_unique():
    names = ["a/b", "a_b", "../../etc/passwd", "x" * 500, "caf\udce9", "", "."]
    stems = [grading.file_stem(name) for name in names]
    assert len(set(stems)) == len(names)
    assert all(re.fullmatch(r"[\w-]{1,80}", stem) for stem in stems)


def test_grading_refuses_to_run_without_a_sandbox_unless_told(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "sandbox_available", lambda: False)
    (tmp_path / "subs").mkdir()
    (tmp_path / "bundles" / "x").mkdir(parents=True)
    (tmp_path / "bundles" / "x" / "questions.json").write_text('{"questions": []}')
    with pytest.raises(ValueError, match="--no-sandbox"):
        grading.grade(tmp_path / "subs", tmp_path / "bundles", tmp_path / "out")
    assert (
        grading.grade(tmp_path / "subs", tmp_path / "bundles", tmp_path / "out", unsandboxed=True)
        == []
    )


def test_the_output_folder_replaces_only_what_the_grader_wrote(tmp_path):
    out = grading.output_folder(tmp_path)
    out.write("results/a-1.json", "{}")  # listed before it is written: no finish() needed
    (tmp_path / "results" / "mine.json").write_text("mine")
    grading.output_folder(tmp_path)
    assert not (tmp_path / "results" / "a-1.json").exists()
    assert (tmp_path / "results" / "mine.json").read_text() == "mine"
    (tmp_path / "scores.csv").write_text("the instructor's")
    with pytest.raises(ValueError, match="was not written by"):
        grading.output_folder(tmp_path).write("scores.csv", "x")
    assert (tmp_path / "scores.csv").read_text() == "the instructor's"
