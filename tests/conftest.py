"""Fixtures shared by the exercise and grading tests: the output of `cnnbook assign`, and one
folder of real submissions made from it (every chapter's blank notebook, chapter 3's reference
and troublesome ones), graded once per test session with `cnnbook grade`, two at a time, into
the output folder of a grader that was killed midway.
"""

import csv
import os
import shutil
import socket
import subprocess
import threading
import time

import nbformat
import pytest
from submissions import (
    CNNBOOK,
    INTRUDER_CONNECTS,
    INTRUDER_READS,
    INTRUDER_WRITES,
    MEMORY_GB,
    NOTES,
    ROOT,
    TIMEOUT,
    TROUBLE_CHAPTER,
    attacks,
    guarded,
    leftovers,
    reference_answers,
    run_cnnbook,
    submission,
)


@pytest.fixture(scope="session")
def assigned(tmp_path_factory):
    """The student notebooks and grading bundles of every chapter, from `cnnbook assign`."""
    out = tmp_path_factory.mktemp("assignments")
    started = time.monotonic()
    result = run_cnnbook("assign", "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"cnnbook assign: {time.monotonic() - started:.0f} s")
    return out


@pytest.fixture(scope="session")
def host_listener():
    """A TCP server on the host's loopback that a sandboxed notebook must not reach."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


# An endless loop in the kernel and in 32 child processes: without a CPU share of its own, it
# would push the notebooks graded beside it past their time limit.
CPU_HOG = """\
import subprocess, sys
spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(32)]
while True:
    pass
"""
ODD_NAMES = ["a/b", "a_b", "=HYPERLINK(0)", "x" * 200, "caf\udce9"]  # the last: not UTF-8


def write_folder(assigned, folder, out, port, separately=False):
    """The graded folder: TROUBLE_CHAPTER's reference, every chapter's blank notebook, the
    troublesome and dishonest submissions, odd names, a link; out/ with the instructor's files.
    Returns the paths the tests look at."""
    bundles = assigned / "grading"
    reference = submission(assigned, TROUBLE_CHAPTER)
    nbformat.write(reference, folder / f"{TROUBLE_CHAPTER}-reference.ipynb")
    for chapter in sorted(path.name for path in bundles.iterdir()):
        notebook = submission(assigned, chapter, answered=False)
        nbformat.write(notebook, folder / f"{chapter}-blank.ipynb")
    paths = {
        "secrets": [
            str(ROOT / "chapters" / f"{TROUBLE_CHAPTER}.md"),
            str(bundles / TROUBLE_CHAPTER / f"{TROUBLE_CHAPTER}.ipynb"),
            str(folder / f"{TROUBLE_CHAPTER}-reference.ipynb"),
        ],
        "outside": [
            str(out / "notes.txt"),
            str(folder / f"{TROUBLE_CHAPTER}-reference.ipynb"),
            str(ROOT / "intruder-was-here.txt"),
            str(folder.parent / "intruder-was-here.txt"),
            f"/tmp/intruder-was-here-{os.getpid()}.txt",
        ],
        "instructor": [out / "notes.txt", out / "feedback" / "mine.md", out / "results" / "keep"],
    }
    answers = reference_answers(assigned, TROUBLE_CHAPTER)
    troubles = {
        "exception": {0: "pool_shape = (15, 15, 16)\nconv_parameters = 1 / 0"},
        "endless-loop": {1: CPU_HOG},  # for its whole time limit, beside the others
        "memory-hog": {1: "hog = [bytearray(2**28) for _ in range(40)]  # 10 GiB, all written"},
        "print-flood": {0: "for _ in range(20):\n    print('x' * 2**20)\n" + answers[0]},
        "intruder": {
            0: guarded(INTRUDER_READS.format(paths=paths["secrets"]), "read", answers[0]),
            1: guarded(INTRUDER_CONNECTS.format(port=port), "connected", answers[1]),
            2: INTRUDER_WRITES.format(paths=paths["outside"]) + answers[2],
            3: answers[3],
        },
    }
    for name, changes in troubles.items():
        notebook = submission(assigned, TROUBLE_CHAPTER, changes=changes)
        nbformat.write(notebook, folder / f"{name}.ipynb")
    for name, changes in attacks(answers, out / "notes.txt", separately).items():
        notebook = submission(assigned, TROUBLE_CHAPTER, answered=False, changes=changes)
        nbformat.write(notebook, folder / f"{name}.ipynb")
    (folder / "not-a-notebook.ipynb").write_text("These are my answers: 15, 15, 16 and 448.\n")
    text = (folder / f"{TROUBLE_CHAPTER}-reference.ipynb").read_text()
    (folder / "truncated.ipynb").write_text(text[: len(text) // 2])
    (folder / "a").mkdir()
    for name in ODD_NAMES:
        (folder / f"{name}.ipynb").write_text("{}")
    (folder / "linked.ipynb").symlink_to(bundles / TROUBLE_CHAPTER / f"{TROUBLE_CHAPTER}.ipynb")
    for path in paths["instructor"]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(NOTES)
    return paths


def grade_command(folder, bundles, out):
    """The arguments of `cnnbook grade` for the tests' batches: two at a time, short limits."""
    limits = ["--timeout", TIMEOUT, "--memory-gb", MEMORY_GB]
    return ["grade", folder, "--bundles", bundles, "--out", out, "--jobs", 2, *limits]


def kill_a_grader(assigned, folder, out):
    """Start `cnnbook grade` on folder's endless loop and a file that is no notebook, and kill
    it (SIGKILL) once it wrote that file's result and runs the loop; return what it left."""
    process = subprocess.Popen(
        [*CNNBOOK, *map(str, grade_command(folder, assigned / "grading", out))],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while not list(out.glob("results/*.json")) or not leftovers(process.pid):
        assert process.poll() is None and time.monotonic() < deadline, "it never got that far"
        time.sleep(0.5)
    time.sleep(1)
    process.kill()
    process.wait()
    time.sleep(1)
    return {"pid": process.pid, "left": leftovers(process.pid)}


@pytest.fixture(scope="session")
def graded(assigned, host_listener, tmp_path_factory):
    """One folder of submissions graded by `cnnbook grade`, into the --out of a grader that was
    killed midway: its paths, CSV rows and wall time, and what the killed one left."""
    base = tmp_path_factory.mktemp("grading")
    folder, out, killed = base / "submissions", base / "grades", base / "killed"
    folder.mkdir()
    paths = write_folder(assigned, folder, out, host_listener)
    killed.mkdir()
    for name in ("endless-loop", "not-a-notebook"):
        shutil.copy(folder / f"{name}.ipynb", killed)
    stopped = kill_a_grader(assigned, killed, out)
    started = time.monotonic()
    result = run_cnnbook(*grade_command(folder, assigned / "grading", out))
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    with open(out / "scores.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    print(f"cnnbook grade: {len(rows)} rows in {seconds:.0f} s")
    return {
        "folder": folder,
        "out": out,
        "bundles": assigned / "grading",
        "paths": paths,
        "rows": rows,
        "seconds": seconds,
        "log": result.stderr,
        "killed": stopped,
    }
