"""Grade a folder of exercise notebooks: one sandboxed ``otter run`` per notebook, in parallel.

otter-grader runs a notebook and every check of its chapter, hidden ones included (``otter
run``), one notebook at a time, with no limits. Around it, each submission gets its own process

- with a wall-clock limit (``timeout``): its whole process tree is killed when time is up;
- with a memory limit (``RLIMIT_AS``, ``memory_gb``) and a file-size limit, so an allocation
  far too large fails with MemoryError in its own cell;
- whose only writable place is a fresh scratch folder; and, where Debian's bubblewrap (``bwrap``)
  is installed, inside a sandbox with no network, its own process and IPC namespaces, no
  capabilities, and read-only access to the system, the Python environment, the cnnbook
  package and the data (`sandbox.data_folders`) only: the chapters
  (which hold the solutions), the grading bundles, the other submissions and the grades are
  not there to be read or written.

The checks run in the submission's own kernel (as in otter and nbgrader), so a notebook can see
its chapter's checks while it is graded. Feedback therefore quotes only the public checks' hints,
never a hidden check's message nor any cell's output.

Output in ``out``: ``scores.csv`` (one row per student and question), ``feedback/<student>.md``,
and ``results/<student>.json``, written as soon as that notebook is graded.
"""

import argparse
import concurrent.futures
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from cnnbook.course import feedback, sandbox

CSV_COLUMNS = ["student", "chapter", "question", "score", "max_score", "status", "message"]
MAX_NOTEBOOK_BYTES = 50 * 2**20
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def find_submissions(folder) -> dict[str, Path]:
    """Every file under folder (hidden ones skipped), keyed by student: its path less .ipynb."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; give the folder of submitted notebooks")
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            name = relative.as_posix().removesuffix(".ipynb")
            found[name if name not in found else relative.as_posix()] = path
    return found


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


def grade(submissions, bundles, out, limits=None, jobs=None, chapter=None) -> list[dict]:
    """Grade every file in submissions; write scores.csv and the feedback; return the CSV rows."""
    submissions, bundles_folder, out = Path(submissions), Path(bundles), Path(out)
    limits = limits or sandbox.Limits()
    if out.resolve().is_relative_to(submissions.resolve()):
        raise ValueError(f"--out {out} is inside {submissions}; write the grades elsewhere")
    found = find_submissions(submissions)
    bundles = load_bundles(bundles_folder)
    if chapter is not None and chapter not in bundles:
        raise ValueError(f"no grading bundle for {chapter!r}; choose from {', '.join(bundles)}")
    jobs = jobs or len(os.sched_getaffinity(0))
    if jobs < 1:
        raise ValueError(f"--jobs {jobs} grades nothing; give 1 or more (default: one per core)")
    sandboxed = sandbox.sandbox_available()
    isolation = "bubblewrap sandbox" if sandboxed else "separate processes, no sandbox (no bwrap)"
    print(f"grading {len(found)} submissions, {jobs} at a time; {isolation}", file=sys.stderr)
    for folder in ("results", "feedback"):
        shutil.rmtree(out / folder, ignore_errors=True)
    started, records = time.monotonic(), {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(
                grade_notebook, path, bundles_folder, bundles, limits, sandboxed, chapter
            ): student
            for student, path in found.items()
        }
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            student = futures[future]
            try:
                record = {"student": student, **future.result()}
            except Exception as error:  # a fault of the grader itself: record it, go on
                record = {"student": student, "chapter": chapter, "status": "failed"}
                record |= {"detail": f"{type(error).__name__}: {error}", "seconds": 0}
            records[student] = record
            _write(out / "results" / f"{student}.json", json.dumps(record, indent=2))
            rows = feedback.score_rows(record, bundles)
            _write(out / "feedback" / f"{student}.md", feedback.feedback(record, rows, bundles))
            score = sum(row["score"] for row in rows)
            possible = sum(row["max_score"] for row in rows)
            print(
                f"[{done}/{len(found)}] {student}: {score:g}/{possible:g} {record['status']} "
                f"({record['seconds']:.0f} s)",
                file=sys.stderr,
            )
    rows = [
        row
        for student in sorted(records)
        for row in feedback.score_rows(records[student], bundles)
    ]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "scores.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({**row, "score": f"{row['score']:g}"} for row in rows)
    print(
        f"graded {len(found)} submissions in {time.monotonic() - started:.0f} s: "
        f"{out / 'scores.csv'} and {out / 'feedback'}/",
        file=sys.stderr,
    )
    return rows


def grade_notebook(path, bundles_folder, bundles, limits, sandboxed, chapter=None) -> dict:
    """Grade one submitted file in its own limited process; never raises for a bad submission."""
    started = time.monotonic()
    notebook, problem = _read_submission(Path(path))
    if notebook is not None:
        chapter = chapter or notebook.metadata.get("otter", {}).get("assignment_name")
        if chapter not in bundles:
            problem = (
                f"the notebook is not one of the book's exercise notebooks (it names chapter "
                f"{chapter!r}); submit the notebook that `cnnbook assign` wrote"
            )
    if problem is not None:
        return _record(chapter, "invalid", problem, started)
    with tempfile.TemporaryDirectory(prefix="cnnbook-grade-") as scratch:
        scratch = Path(scratch)
        notebook.metadata.setdefault("otter", {})["assignment_name"] = chapter
        notebook.metadata["kernelspec"] = KERNELSPEC
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, scratch / f"{chapter}.ipynb")
        shutil.copy(Path(bundles_folder) / chapter / "autograder.zip", scratch / "autograder.zip")
        inside = Path(sandbox.SANDBOX_HOME) if sandboxed else scratch
        command = [
            sys.executable,
            "-m",
            "cnnbook.course.inside",
            str(inside / f"{chapter}.ipynb"),
            str(inside / "autograder.zip"),
            str(inside / "result.json"),
            str(int(limits.memory_gb * 2**30)),
        ]
        if sandboxed:
            command = [*sandbox.bwrap_prefix(scratch), *command]
        with open(scratch / "log.txt", "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=scratch,
                env=sandbox.environment(inside),
                start_new_session=True,
            )
            try:
                process.wait(timeout=limits.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                sandbox.stop(process)
        if timed_out:
            return _record(
                chapter,
                "timed out",
                f"stopped after {limits.timeout:g} s, the time limit for one notebook; look for "
                "a cell that never ends, such as an endless loop",
                started,
            )
        try:
            result = json.loads((scratch / "result.json").read_text())
        except (OSError, ValueError):
            tail = (scratch / "log.txt").read_bytes()[-2000:].decode(errors="replace")
            last = tail.strip().splitlines()[-1] if tail.strip() else "no output"
            return _record(
                chapter,
                "failed",
                f"grading ended (exit code {process.returncode}) without a result: {last}",
                started,
            )
    return {**_record(chapter, result.pop("status"), result.pop("detail"), started), **result}


def _read_submission(path: Path):
    """(notebook, None) for a readable notebook, (None, why not) for anything else."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return None, f"the file has {size:,} bytes, more than {MAX_NOTEBOOK_BYTES:,} allowed"
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # anything unreadable is the submission's fault, not a crash
        return (
            None,
            f"not a readable notebook ({type(error).__name__}: {feedback.short(str(error))})",
        )
    return notebook, None


def _record(chapter, status, detail, started) -> dict:
    """The start of a result record: what was graded, how it ended and how long it took."""
    return {
        "chapter": chapter,
        "status": status,
        "detail": detail,
        "seconds": round(time.monotonic() - started, 1),
    }


def _write(path: Path, text: str) -> None:
    """Write text to path, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


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
    args = parser.parse_args(argv)
    limits = sandbox.Limits(timeout=args.timeout, memory_gb=args.memory_gb)
    try:
        grade(args.submissions, args.bundles, args.out, limits, args.jobs, args.chapter)
    except ValueError as error:
        parser.exit(2, f"cnnbook grade: {error}\n")
    return 0
