"""Grade a folder of exercise notebooks: one sandboxed ``otter run`` per notebook, in parallel.

otter-grader runs a notebook and every check of its chapter, hidden ones included (``otter
run``), one notebook at a time, with no limits. Around it, each submission gets its own process

- with a wall-clock limit (``timeout``): its whole process tree is killed when time is up;
- with a memory limit (``RLIMIT_AS``, ``memory_gb``) and a file-size limit, so an allocation
  far too large fails with MemoryError in its own cell;
- whose only writable place is a fresh scratch folder; and, where Debian's bubblewrap (``bwrap``)
  is installed, inside a sandbox with no network, its own process and IPC namespaces, no
  capabilities, and read-only access to the system, the Python environment, the cnnbook
  package and the data (`data_folders` and ``data/registry.json``) only: the chapters
  (which hold the solutions), the grading bundles, the other submissions and the grades are
  not there to be read or written.

The checks run in the submission's own kernel (as in otter and nbgrader), so a notebook can see
its chapter's checks while it is graded. Feedback therefore quotes only the public checks' hints,
never a hidden check's message nor any cell's output.

Output in ``out``: ``scores.csv`` (one row per student and question), ``feedback/<student>.md``,
and ``results/<student>.json``, written as soon as that notebook is graded.
"""

import concurrent.futures
import csv
import dataclasses
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil

import cnnbook
import cnnbook.data

CSV_COLUMNS = ["student", "chapter", "question", "score", "max_score", "status", "message"]
MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_FILE_BYTES = 2**30  # the largest file a submission may write while it is graded
MAX_MESSAGE = 300  # characters of a check's hint quoted in the feedback
SANDBOX_HOME = "/home/student"
SYSTEM_FOLDERS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
SYSTEM_FILES = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/fonts",
]
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
CHECK_CALL = re.compile(r"\.check\(\s*[\"']([^\"']+)[\"']")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one notebook may use while it is graded."""

    timeout: float = 300
    memory_gb: float = 4


def sandbox_available() -> bool:
    """True when bubblewrap is installed and can start a sandbox on this machine."""
    if shutil.which("bwrap") is None:
        return False
    probe = subprocess.run(
        [*_bwrap_prefix(Path(tempfile.gettempdir())), "true"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


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


def grade(submissions, bundles, out, limits=Limits(), jobs=None, chapter=None) -> list[dict]:
    """Grade every file in submissions; write scores.csv and the feedback; return the CSV rows."""
    submissions, bundles_folder, out = Path(submissions), Path(bundles), Path(out)
    if out.resolve().is_relative_to(submissions.resolve()):
        raise ValueError(f"--out {out} is inside {submissions}; write the grades elsewhere")
    found = find_submissions(submissions)
    bundles = load_bundles(bundles_folder)
    if chapter is not None and chapter not in bundles:
        raise ValueError(f"no grading bundle for {chapter!r}; choose from {', '.join(bundles)}")
    jobs = jobs or len(os.sched_getaffinity(0))
    if jobs < 1:
        raise ValueError(f"--jobs {jobs} grades nothing; give 1 or more (default: one per core)")
    sandboxed = sandbox_available()
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
            rows = score_rows(record, bundles)
            _write(out / "feedback" / f"{student}.md", feedback(record, rows, bundles))
            score = sum(row["score"] for row in rows)
            possible = sum(row["max_score"] for row in rows)
            print(
                f"[{done}/{len(found)}] {student}: {score:g}/{possible:g} {record['status']} "
                f"({record['seconds']:.0f} s)",
                file=sys.stderr,
            )
    rows = [row for student in sorted(records) for row in score_rows(records[student], bundles)]
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
        inside = Path(SANDBOX_HOME) if sandboxed else scratch
        command = [
            sys.executable,
            "-m",
            "cnnbook.grading",
            str(inside / f"{chapter}.ipynb"),
            str(inside / "autograder.zip"),
            str(inside / "result.json"),
            str(int(limits.memory_gb * 2**30)),
        ]
        if sandboxed:
            command = [*_bwrap_prefix(scratch), *command]
        with open(scratch / "log.txt", "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=scratch,
                env=_environment(inside),
                start_new_session=True,
            )
            try:
                process.wait(timeout=limits.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _stop(process)
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


def score_rows(record: dict, bundles: dict) -> list[dict]:
    """The CSV rows of one graded submission: one per question of its chapter."""
    chapter = record["chapter"]
    if chapter not in bundles:
        return [_row(record, "", 0, 0, record["status"], record["detail"])]
    rows = []
    for question in bundles[chapter]["questions"]:
        name, possible = question["name"], question["points"]
        result = record.get("questions", {}).get(name)
        if record["status"] != "graded":
            rows.append(_row(record, name, 0, possible, record["status"], record["detail"]))
        elif result is None:
            rows.append(_row(record, name, 0, possible, "failed", "its checks did not run"))
        else:
            errors = [error for error in record["errors"] if error["question"] == name]
            status, message = _question_status(result["checks"], errors)
            rows.append(_row(record, name, result["score"], possible, status, message))
    return rows


def feedback(record: dict, rows: list[dict], bundles: dict) -> str:
    """A student's feedback in Markdown: the score, then each exercise's result and hints."""
    score, possible = sum(row["score"] for row in rows), sum(row["max_score"] for row in rows)
    chapter = record["chapter"] or "no chapter"
    lines = [f"# Feedback for {record['student']}: {chapter}", ""]
    lines += [f"Score: {score:g} of {possible:g}.", ""]
    if record["status"] != "graded":
        return "\n".join(lines + [f"Not graded ({record['status']}): {record['detail']}", ""])
    titles = {q["name"]: q["title"] for q in bundles[record["chapter"]]["questions"]}
    for row in rows:
        lines.append(
            f"## {titles[row['question']]}: {row['score']:g} of {row['max_score']:g}, "
            f"{row['status']}"
        )
        notes = _question_notes(record, row)
        lines += ["", *notes, ""] if notes else [""]
    return "\n".join(lines)


def _question_notes(record: dict, row: dict) -> list[str]:
    """The feedback's bullet points for one question: what went wrong, and the public hints."""
    if row["status"] in ("not attempted", "out of memory"):
        return [f"- {row['message']}"]
    notes = [
        f"- A cell raised {error['ename']}"
        + (f": {_short(error['evalue'])}" if error["evalue"] else ".")
        for error in record["errors"]
        if error["question"] == row["question"]
    ]
    checks = record["questions"].get(row["question"], {"checks": []})["checks"]
    public = [check for check in checks if not check["hidden"]]
    for index, check in enumerate(public, start=1):
        if not check["passed"]:
            notes.append(f"- Check {index}: {_short(check['message'])}")
    failed_hidden = sum(not check["passed"] for check in checks if check["hidden"])
    if failed_hidden:
        notes.append(f"- {failed_hidden} hidden check(s) failed.")
    return notes


def work(notebook, autograder, result_path, memory_bytes) -> None:
    """Inside the sandbox: limit this process tree, run otter on the notebook, write the result."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    import otter.run  # after the limits, so that they hold for the kernel otter starts

    try:
        results = otter.run.main(notebook, autograder=autograder, output_dir=None, no_logo=True)
    except Exception as error:  # a dead kernel, or otter refusing the notebook
        detail = f"{type(error).__name__}: {error}"
        if type(error).__name__ == "DeadKernelError":
            detail = f"the kernel died: a cell crashed or ended Python ({detail})"
        result = {"status": "failed", "detail": detail}
    else:
        if results.catastrophic_error is not None:
            detail = f"the notebook could not be graded: {results.catastrophic_error}"
            result = {"status": "failed", "detail": detail}
        else:
            result = {
                "status": "graded",
                "detail": "",
                "questions": {
                    name: {
                        "score": test_file.score,
                        "possible": test_file.possible,
                        "checks": [
                            _check_result(outcome) for outcome in test_file.test_case_results
                        ],
                    }
                    for name, test_file in results.results.items()
                },
                "errors": _cell_errors(results.notebook),
            }
    Path(result_path).write_text(json.dumps(result, indent=2))


def _check_result(outcome) -> dict:
    """One check's outcome: hidden or not, passed or not, and the exception it raised."""
    message = (outcome.message or "").strip()
    lines = message.splitlines()
    if not outcome.passed and len(lines) > 3 and lines[1].startswith("Error at line"):
        message = "\n".join(lines[3:])  # otter adds a header and the failing line of the check
    if outcome.passed:
        return {"hidden": outcome.test_case.hidden, "passed": True, "error": "", "message": ""}
    error, _, text = message.partition(": ")
    return {"hidden": outcome.test_case.hidden, "passed": False, "error": error, "message": text}


def _cell_errors(notebook) -> list[dict]:
    """The exceptions the notebook's cells raised, each with the exercise whose check follows."""
    errors, pending = [], []
    for cell in notebook.cells if notebook is not None else []:
        if cell.cell_type != "code":
            continue
        checked = CHECK_CALL.search(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                pending.append({"ename": output["ename"], "evalue": output["evalue"]})
        if checked:
            errors += [{**error, "question": checked.group(1)} for error in pending]
            pending = []
    return errors + [{**error, "question": None} for error in pending]


def _question_status(checks, errors) -> tuple[str, str]:
    """The status of one question and the message of its first failing check."""
    failed = [check for check in checks if not check["passed"]]
    public = [check for check in failed if not check["hidden"]]
    message = public[0]["message"] if public else "a hidden check failed" if failed else ""
    if not failed:
        return "correct", ""
    if any(error["ename"] == "MemoryError" for error in errors):
        return "out of memory", "a cell ran out of memory: it needs more than one notebook may use"
    if errors:
        return "error", f"a cell raised {errors[0]['ename']}: {_short(errors[0]['evalue'])}"
    if len(failed) == len(checks) and any(check["error"] == "NotAttempted" for check in failed):
        return "not attempted", message
    return ("partial" if len(failed) < len(checks) else "incorrect"), message


def _read_submission(path: Path):
    """(notebook, None) for a readable notebook, (None, why not) for anything else."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return None, f"the file has {size:,} bytes, more than {MAX_NOTEBOOK_BYTES:,} allowed"
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # anything unreadable is the submission's fault, not a crash
        return None, f"not a readable notebook ({type(error).__name__}: {_short(str(error))})"
    return notebook, None


def _record(chapter, status, detail, started) -> dict:
    """The start of a result record: what was graded, how it ended and how long it took."""
    return {
        "chapter": chapter,
        "status": status,
        "detail": detail,
        "seconds": round(time.monotonic() - started, 1),
    }


def _row(record, question, score, possible, status, message) -> dict:
    """One CSV row."""
    return {
        "student": record["student"],
        "chapter": record["chapter"] or "",
        "question": question,
        "score": score,
        "max_score": possible,
        "status": status,
        "message": _short(message),
    }


def _short(text: str) -> str:
    """text on one line, cut to MAX_MESSAGE characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _write(path: Path, text: str) -> None:
    """Write text to path, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _bwrap_prefix(scratch: Path) -> list[str]:
    """The bubblewrap command line that runs a command with scratch as its only writable folder."""
    prefix = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL"]
    # The empty /tmp first: a Python environment or package under /tmp is bound over it below.
    prefix += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            prefix += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            prefix += ["--ro-bind", folder, folder]
    for path in SYSTEM_FILES:
        prefix += ["--ro-bind-try", path, path]
    package = str(Path(cnnbook.__file__).parent)
    # The data registry (what load_mnist looks for and checks) and the data folders.
    readable = [sys.base_prefix, sys.prefix, package, str(cnnbook.data.REGISTRY_PATH)]
    for path in readable + data_folders():
        prefix += ["--ro-bind-try", path, path]
    prefix += ["--bind", str(scratch), SANDBOX_HOME, "--remount-ro", "/"]
    return prefix + ["--chdir", SANDBOX_HOME, "--"]


def _environment(home: Path) -> dict[str, str]:
    """The environment of a grading process: only what a notebook needs, none of the grader's."""
    environment = {
        "HOME": str(home),
        "USER": "student",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "OMP_NUM_THREADS": "1",  # the submissions graded in parallel share the cores
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    folders = data_folders()
    if folders:
        environment["CNNBOOK_DATA_DIR"] = os.pathsep.join(folders)
    for name in ("CNNBOOK_MODE", "KERAS_BACKEND"):
        if name in os.environ:
            environment[name] = os.environ[name]
    return environment


def data_folders() -> list[str]:
    """The grader's data folders that exist: CNNBOOK_DATA_DIR's and its user cache.

    A graded notebook reads its data from these (read-only) and never downloads: the sandbox
    has no network, and its own user cache is an empty folder.
    """
    return [str(folder) for _, folder in cnnbook.data.search_dirs() if folder.is_dir()]


def _stop(process: subprocess.Popen) -> None:
    """Kill a grading process and all it started (otter starts the kernel in a new session)."""
    try:
        tree = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    for victim in tree:
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


if __name__ == "__main__":
    work(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
