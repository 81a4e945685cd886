"""Grade a folder of exercise notebooks: each runs in its own sandbox and exports its answers;
the checks run on the host, on that export only, in a process that runs no submitted code.

For each submission, in parallel (``jobs``):

1. the notebook runs in a sandbox (`sandbox`, `inside`) with a wall-clock limit (``timeout``),
   a memory limit (``memory_gb``: the process's address space, and where the grader is root,
   the whole submission's memory, files included, in a cgroup and a sized tmpfs), a process
   limit and one core; its whole process tree is killed when it ends or time is up. The
   sandbox holds the notebook and the list of answers to export (`answers`), never a check;
2. the host copies the export out of the scratch folder (never following a link, size-capped),
   and `checking` runs every check of the chapter, public and hidden, on it;
3. the host alone sets the student, the chapter, each score (never above the question's
   points) and each status.

Before the batch, what a grader that was killed left is removed (`sandbox.remove_stale`). A
submission that timed out or failed while others ran is graded once more, alone, before it
gets 0. A fault in grading one submission gives that student a "failed" row; the batch goes on.

Output in ``out``: ``scores.csv`` (one row per student and question; the student's real name,
cells that a spreadsheet would run as a formula prefixed with ``'``), ``feedback/<file>.md``
and ``results/<file>.json``, where ``<file>`` is `file_stem` of the student's name. Only files
the grader wrote there before (listed in ``.cnnbook-grades.json``) are ever replaced or removed.
"""

import argparse
import concurrent.futures
import csv
import hashlib
import io
import json
import os
import queue
import re
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from cnnbook.course import answers, feedback, output, sandbox

CSV_COLUMNS = ["student", "chapter", "question", "score", "max_score", "status", "message"]
MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_CELLS_BYTES = 2**20  # the sandbox's list of the exceptions its cells raised
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
CHECK_SECONDS = 120  # the host's checks of one submission's export
START_SECONDS = 600  # the checking process's start (importing Keras) on a busy machine
MANIFEST = ".cnnbook-grades.json"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
RETRIED = ("timed out", "failed")


def find_submissions(folder) -> tuple[dict[str, Path], dict[str, str]]:
    """(submissions, refused): every regular file under folder (hidden ones skipped), keyed by
    student (its path less .ipynb); and the links and files outside folder, with why."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; give the folder of submitted notebooks")
    found, refused, root = {}, {}, folder.resolve()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or path.is_dir():
            continue
        name = relative.as_posix().removesuffix(".ipynb")
        name = name if name not in found else relative.as_posix()
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            refused[name] = "the submission is a symbolic link; submit the notebook file itself"
        elif path.is_file():
            found[name] = path
    return found, refused


def load_bundles(folder) -> dict[str, dict]:
    """The questions.json of each chapter's grading bundle, keyed by chapter name."""
    folder = Path(folder)
    bundles = {
        path.parent.name: json.loads(path.read_text())
        for path in sorted(folder.glob("*/questions.json"))
    }
    if not bundles:
        raise ValueError(
            f"no grading bundles in {folder}; run `cnnbook assign` first, or pass --bundles"
        )
    return bundles


def file_stem(student: str) -> str:
    """A safe, unique file name for a student: the name's letters, then a hash of all of it."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", student)[:60].strip("_") or "student"
    return (
        f"{readable}-{hashlib.sha256(student.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"
    )


def grade(
    submissions, bundles, out, limits=None, jobs=None, chapter=None, unsandboxed=False
) -> list[dict]:
    """Grade every file in submissions; write scores.csv and the feedback; return the CSV rows."""
    submissions, out = Path(submissions), Path(out)
    found, refused, bundles, jobs, sandboxed = _prepare(
        submissions, bundles, out, jobs, chapter, unsandboxed
    )
    started = time.monotonic()
    batch = Batch(
        bundles, output_folder(out), limits or sandbox.Limits(), jobs, sandboxed, chapter
    )
    for student, why in refused.items():
        record = {"student": shown(student), **_record(chapter, "invalid", why, started)}
        batch.finish(student, record, 0, 0)
    try:
        batch.grade_all(found, jobs)
        again = [s for s in found if batch.records[s]["status"] in RETRIED and jobs > 1]
        batch.grade_all({student: found[student] for student in again}, 1, "again, alone")
    finally:
        batch.close()
    rows = batch.write_scores()
    print(
        f"graded {len(found)} submissions in {time.monotonic() - started:.0f} s: "
        f"{out / 'scores.csv'} and {out / 'feedback'}/",
        file=sys.stderr,
    )
    return rows


def _prepare(submissions: Path, bundles, out: Path, jobs, chapter, unsandboxed):
    """Check the arguments and remove what a killed grader left (`sandbox.remove_stale`);
    return (found, refused, bundles, jobs, sandboxed): see `find_submissions`."""
    if out.resolve().is_relative_to(submissions.resolve()):
        raise ValueError(f"--out {out} is inside {submissions}; write the grades elsewhere")
    found, refused = find_submissions(submissions)
    bundles = load_bundles(bundles)
    if chapter is not None and chapter not in bundles:
        raise ValueError(f"no grading bundle for {chapter!r}; choose from {', '.join(bundles)}")
    jobs = jobs or len(os.sched_getaffinity(0))
    if jobs < 1:
        raise ValueError(f"--jobs {jobs} grades nothing; give 1 or more (default: one per core)")
    sandboxed = sandbox.sandbox_available()
    if not sandboxed and not unsandboxed:
        raise ValueError(
            "bubblewrap (bwrap) is not installed or cannot start a sandbox here, so a notebook "
            "could read and change every file you can; install it (`sudo apt-get install "
            "bubblewrap`), or pass --no-sandbox to grade without one"
        )
    removed = sandbox.remove_stale()
    if removed:
        print(f"removed what a grader that was killed left: {', '.join(removed)}", file=sys.stderr)
    isolation = "bubblewrap sandbox" if sandboxed else "separate processes, NO SANDBOX"
    print(f"grading {len(found)} submissions, {jobs} at a time; {isolation}", file=sys.stderr)
    return found, refused, bundles, jobs, sandboxed


class Batch:
    """One run of `grade`: its job slots (each with its own `Checker` and, as root, its own
    user), the records so far, and the files it writes in --out."""

    def __init__(self, bundles, written, limits, jobs, sandboxed, chapter):
        self.bundles, self.written, self.limits = bundles, written, limits
        self.sandboxed, self.chapter, self.records = sandboxed, chapter, {}
        self.slots, self.checkers = queue.Queue(), [Checker() for _ in range(jobs)]
        for slot in range(jobs):
            self.slots.put(slot)

    def grade_all(self, found: dict[str, Path], workers: int, note: str = "") -> None:
        """Grade found's submissions, workers at a time, recording each as it finishes."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {
                pool.submit(self._one, student, path, note): student
                for student, path in found.items()
            }
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                student = futures[future]
                self.finish(student, _result(student, future, self.chapter), done, len(found))

    def _one(self, student: str, path: Path, note: str) -> dict:
        if note:
            print(f"grading {student!r} {note}", file=sys.stderr)
        slot = self.slots.get()
        try:
            return grade_notebook(
                path,
                self.bundles,
                self.limits,
                self.sandboxed,
                self.checkers[slot],
                self.chapter,
                slot,
            )
        finally:
            self.slots.put(slot)

    def finish(self, student: str, record: dict, done: int, total: int) -> None:
        """Record a student's result and write its files; report the progress."""
        self.records[student] = record
        rows = _rows(record, self.bundles)
        stem = file_stem(student)
        try:
            self.written.write(f"results/{stem}.json", json.dumps(record, indent=2))
            self.written.write(f"feedback/{stem}.md", _feedback(record, rows, self.bundles))
        except (OSError, ValueError) as error:  # one student's files cannot stop the batch
            detail = f"its result could not be written ({type(error).__name__}: {error})"
            self.records[student] = {**record, "status": "failed", "detail": detail}
            rows = _rows(self.records[student], self.bundles)
        score = sum(row["score"] for row in rows)
        possible = sum(row["max_score"] for row in rows)
        print(
            f"[{done}/{total}] {student!r}: {score:g}/{possible:g} {record['status']} "
            f"({record['seconds']:.0f} s)",
            file=sys.stderr,
        )

    def write_scores(self) -> list[dict]:
        """Write scores.csv (and the list of what was written); return its rows."""
        rows = [
            row
            for student in sorted(self.records)
            for row in _rows(self.records[student], self.bundles)
        ]
        stream = io.StringIO()
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
        self.written.write("scores.csv", stream.getvalue())
        return rows

    def close(self) -> None:
        """Stop the checking processes."""
        for checker in self.checkers:
            checker.close()


def shown(student: str) -> str:
    """A student's name as the CSV and the feedback show it: bytes that are not UTF-8 (kept
    in a file name as surrogates) become U+FFFD."""
    return student.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _result(student, future, chapter) -> dict:
    """A finished grading's record, or a 'failed' one if grading it went wrong."""
    try:
        return {**future.result(), "student": shown(student)}
    except Exception as error:  # noqa: BLE001 - a fault of the grader: record it, go on
        detail = f"the grader failed on this submission ({type(error).__name__})"
        return {**_record(chapter, "failed", detail, time.monotonic()), "student": shown(student)}


def _rows(record, bundles) -> list[dict]:
    """The score rows of one record; a failed row if even that goes wrong."""
    try:
        return feedback.score_rows(record, bundles)
    except Exception as error:  # noqa: BLE001 - one record cannot stop the batch
        detail = f"the grader failed on this submission ({type(error).__name__})"
        failed = {**record, "status": "failed", "detail": detail}
        return feedback.score_rows({**failed, "chapter": None}, {})


def _feedback(record, rows, bundles) -> str:
    """The feedback of one record; a short note if writing it goes wrong."""
    try:
        return feedback.feedback(record, rows, bundles)
    except Exception as error:  # noqa: BLE001 - one record cannot stop the batch
        return f"# Feedback\n\nThe grader failed on this submission ({type(error).__name__}).\n"


def _cell(value) -> str:
    """A CSV cell that no spreadsheet runs as a formula."""
    text = f"{value:g}" if isinstance(value, (int, float)) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def grade_notebook(path, bundles, limits, sandboxed, checker, chapter=None, slot=0) -> dict:
    """Grade one submitted file: run it, check its export with checker (a `Checker`); never
    raises for a bad submission."""
    started = time.monotonic()
    notebook, problem = _read_submission(Path(path))
    if notebook is not None:
        chapter = chapter or notebook.metadata.get("otter", {}).get("assignment_name")
        if not isinstance(chapter, str) or chapter not in bundles:
            chapter = None
            problem = "the notebook is not one of the book's exercise notebooks; submit the "
            problem += "notebook that `cnnbook assign` wrote"
    if problem is not None:
        return _record(chapter, "invalid", problem, started)
    bundle = bundles[chapter]
    plan = {q["name"]: {"names": q["names"], "calls": q["calls"]} for q in bundle["questions"]}
    with sandbox.owned_folder("check") as private:
        outcome = _run_sandboxed(notebook, chapter, plan, limits, sandboxed, slot, private)
        if outcome is not None:
            return _record(chapter, *outcome, started)
        (private / "questions.json").write_text(json.dumps(bundle))
        request = [private / "questions.json", private / "answers", private / "checked.json"]
        if not checker.check(request, max(limits.memory_bytes, 4 * 2**30)):
            return _record(chapter, "failed", "the checks could not run on its answers", started)
        result = json.loads((private / "checked.json").read_text())
        cells = json.loads((private / "answers" / "cells.json").read_text())
    record = _record(chapter, "graded", "", started)
    record["questions"] = result["questions"]
    record["errors"] = _cell_errors(cells, plan)
    record["kernel_died"] = cells.get("kernel_died") is True
    return record


def _run_sandboxed(notebook, chapter, plan, limits, sandboxed, slot, private):
    """Run the notebook in its sandbox and copy its export to private/answers; return None, or
    (status, detail) when it gave no export."""
    user = sandbox.slot_user(slot) if sandboxed else None  # --no-sandbox: the grader's user
    cgroup = sandbox.Cgroup(limits)
    with sandbox.scratch_folder(limits, user) as scratch:
        home = scratch / "home"
        inside = Path(sandbox.SANDBOX_HOME) if sandboxed else home
        _write_home(home, notebook, chapter, plan, user)
        command = [
            sys.executable,
            "-m",
            "cnnbook.course.inside",
            str(inside / f"{chapter}.ipynb"),
            str(inside / "plan.json"),
            str(inside / "answers"),
            str(limits.memory_bytes),
            str(sandbox.MAX_PROCESSES if user is not None and not cgroup.enabled else 0),
        ]
        if sandboxed:
            command = [*sandbox.bwrap_prefix(scratch, user), *command]
        code = _execute(command, home, inside, limits.timeout, user, cgroup, private / "log.txt")
        if code is None:
            return (
                "timed out",
                f"stopped after {limits.timeout:g} s, the time limit for one notebook; look for "
                "a cell that never ends, such as an endless loop",
            )
        try:
            _copy_export(home / "answers", private / "answers", plan)
        except (OSError, answers.Invalid):
            return (
                "failed",
                f"the notebook ended (exit code {code}) without exporting its answers: a cell "
                "may have ended Python or used up its memory",
            )
    return None


def _write_home(home: Path, notebook, chapter: str, plan: dict, user: int | None) -> None:
    """Put the notebook (outputs cleared) and the plan of its export in the sandbox's home."""
    notebook.metadata["kernelspec"] = KERNELSPEC
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, home / f"{chapter}.ipynb")
    (home / "plan.json").write_text(json.dumps(plan))
    for path in home.iterdir():
        if user is not None:
            os.chown(path, user, user)


def _execute(command, home, inside, seconds, user, cgroup, log_path) -> int | None:
    """Run command in home (inside: home as the command sees it) for up to seconds, its output
    in log_path, then stop all it started; its exit code, or None if it ran out of time."""
    run = sandbox.new_run()
    with open(log_path, "wb") as log:
        process = sandbox.start(
            command, cwd=home, env=sandbox.environment(inside, run), log=log, cgroup=cgroup
        )
        try:
            return process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None
        finally:
            sandbox.stop(process, run, user, cgroup)


def _copy_export(source: Path, target: Path, plan: dict) -> None:
    """Copy the files the host reads from the scratch folder: regular files only, never through
    a link, each size-capped; missing answers are simply not copied."""
    target.mkdir()
    descriptor = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    os.close(descriptor)
    limits = {"cells.json": MAX_CELLS_BYTES}
    for label in plan:
        limits |= {
            f"{label}.json": answers.MAX_JSON_BYTES,
            f"{label}.npz": answers.MAX_ARRAY_BYTES,
        }
    for name, limit in limits.items():
        try:
            data = answers.read_capped(source / name, limit)
        except FileNotFoundError:
            if name == "cells.json":
                raise
            continue
        (target / name).write_bytes(data)


def _cell_errors(cells: dict, plan: dict) -> list[dict]:
    """The sandbox's list of cell exceptions, checked: known questions, Python's own names."""
    errors = cells.get("errors") if isinstance(cells, dict) else None
    checked = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict) or error.get("question") not in plan:
            continue
        name = error.get("ename")
        known = name in answers.BUILTIN_ERRORS or name == "NotAttempted"
        checked.append({"question": error["question"], "ename": name if known else "Exception"})
    return checked[:1000]


class Checker:
    """A `checking` process on the host, kept for one job slot's submissions (Keras is imported
    once), started again after a fault or a timeout, which fails only that submission."""

    def __init__(self):
        self.process = None

    def check(self, request: list[Path], memory_bytes: int) -> bool:
        """Run every check on one export; False if the checking process failed or took over
        CHECK_SECONDS (it is then stopped, and started afresh for the next submission)."""
        try:
            if self.process is None:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "cnnbook.course.checking", str(memory_bytes)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                    cwd=tempfile.gettempdir(),
                    text=True,
                )
                if self._answer(START_SECONDS) != "ready":
                    raise OSError("the checking process did not start")
            self.process.stdin.write("\t".join(map(str, request)) + "\n")
            self.process.stdin.flush()
            if self._answer(CHECK_SECONDS) == "done":
                return True
        except OSError:
            pass
        self.close()
        return False

    def _answer(self, seconds: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], seconds)
        return self.process.stdout.readline().strip() if ready else ""

    def close(self) -> None:
        """Stop the checking process."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _read_submission(path: Path):
    """(notebook, None) for a readable notebook, (None, why not) for anything else."""
    try:
        data = answers.read_capped(path, MAX_NOTEBOOK_BYTES)
    except answers.Invalid as error:
        return None, f"the file cannot be graded: {error}"
    except OSError:
        return None, "the file cannot be read; submit the notebook file itself"
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 - anything unreadable is the submission's fault
        return None, f"not a readable notebook ({type(error).__name__})"
    return notebook, None


def _record(chapter, status, detail, started) -> dict:
    """The start of a result record: what was graded, how it ended and how long it took."""
    return {
        "chapter": chapter,
        "status": status,
        "detail": detail,
        "seconds": round(time.monotonic() - started, 1),
    }


def _graders_file(name: str) -> bool:
    """The names `cnnbook grade` writes in --out."""
    return (
        name == "scores.csv"
        or re.fullmatch(r"(results/[\w-]+\.json|feedback/[\w-]+\.md)", name) is not None
    )


def output_folder(folder: Path) -> output.Output:
    """The grader's --out: it replaces or removes only the files it wrote (output.Output)."""
    return output.Output(folder, MANIFEST, "cnnbook grade", ours=_graders_file)


def positive(text: str) -> float:
    """An argparse type: a number greater than zero."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def main(argv=None):
    """`cnnbook grade`: grade a folder of notebooks."""
    parser = argparse.ArgumentParser(
        prog="cnnbook grade",
        description="Grade a folder of notebooks: scores.csv and feedback/ in --out.",
    )
    parser.add_argument("submissions", help="folder of submitted notebooks, one per student")
    parser.add_argument("--out", default="_build/grades", help="default: _build/grades")
    parser.add_argument(
        "--bundles",
        default="_build/assignments/grading",
        help="the grading bundles of `cnnbook assign` (default: _build/assignments/grading)",
    )
    parser.add_argument(
        "--timeout", type=positive, default=300, help="seconds per notebook (default: 300)"
    )
    parser.add_argument(
        "--memory-gb", type=positive, default=4, help="memory per notebook (default: 4)"
    )
    parser.add_argument(
        "--jobs", type=int, help="notebooks graded at once (default: one per core)"
    )
    parser.add_argument(
        "--chapter", help="grade every file as this chapter's notebook (default: its metadata)"
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without bubblewrap: each notebook then runs as you, with your network, and "
        "can read and change every file you can (other submissions, the grades, your home); "
        "only the time, memory and process limits hold, and no process outlives its notebook",
    )
    args = parser.parse_args(argv)
    limits = sandbox.Limits(timeout=args.timeout, memory_gb=args.memory_gb)
    try:
        grade(
            args.submissions,
            args.bundles,
            args.out,
            limits,
            args.jobs,
            args.chapter,
            unsandboxed=args.no_sandbox,
        )
    except ValueError as error:
        parser.exit(2, f"cnnbook grade: {error}\n")
    return 0
