"""Real submissions for the exercise and grading tests, made from the notebooks that `cnnbook
assign` writes: answered with the reference, left blank, or with some answer cells replaced.
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import nbformat
import psutil

from cnnbook.course import assignments

ROOT = Path(__file__).resolve().parent.parent
CNNBOOK = [str(Path(sys.executable).parent / "cnnbook")]  # the installed command
TROUBLE_CHAPTER = "03_parameters"
TIMEOUT = 30  # seconds per notebook: twice the slowest (16 s), two at a time
MEMORY_GB = 3
# The jupytext header every chapter starts with, for the chapters tests write.
MYST_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def run_cnnbook(*arguments, cwd=ROOT):
    """Run the cnnbook command line; return the finished process (output captured)."""
    return subprocess.run(
        [*CNNBOOK, *map(str, arguments)], cwd=cwd, capture_output=True, text=True, timeout=900
    )


def leftovers(pid):
    """What the grader with process id pid made and left: its folders in the temporary folder,
    tmpfs mounts, cgroups and the processes of its runs (found here by their names alone)."""
    found = [
        str(path)
        for kind in ("grade", "check")
        for path in Path(tempfile.gettempdir()).glob(f"cnnbook-{kind}-{pid}-*")
    ]
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    found += [f"mount {line.split()[4]}" for line in mounts if f"/cnnbook-grade-{pid}-" in line]
    for pattern in (f"cnnbook-grade-{pid}-*", f"*/cnnbook-grade-{pid}-*"):
        found += [f"cgroup {path}" for path in Path("/sys/fs/cgroup").glob(pattern)]
    for process in psutil.process_iter(["environ"]):
        run = (process.info.get("environ") or {}).get("CNNBOOK_GRADING_RUN", "")
        if run.startswith(f"{pid}-"):
            found.append(f"process {process.pid}")
    return found


def answer_cells(notebook):
    """The indices of a notebook's answer cells (otter tags them in both versions)."""
    tags = ("otter_answer_cell", "otter_assign_solution_cell")
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if any(tag in cell.metadata.get("tags", []) for tag in tags)
    ]


def submission(assigned, chapter, answered=True, changes=None):
    """The student notebook, answered with the reference (or not); changes[k] replaces cell k."""
    student = nbformat.read(assigned / "student" / chapter / f"{chapter}.ipynb", 4)
    reference = nbformat.read(assigned / "grading" / chapter / f"{chapter}.ipynb", 4)
    pairs = zip(answer_cells(student), answer_cells(reference), strict=True)
    for number, (mine, theirs) in enumerate(pairs):
        if number in (changes or {}):
            student.cells[mine].source = changes[number]
        elif answered:
            student.cells[mine].source = reference.cells[theirs].source
    return student


def reference_answers(assigned, chapter):
    """The sources of a chapter's reference answer cells, in order."""
    reference = submission(assigned, chapter)
    return [reference.cells[index].source for index in answer_cells(reference)]


def guarded(prelude, condition, answer):
    """An answer cell that runs prelude, then gives the answer only if condition is true."""
    return f"{prelude}if {condition}:\n{textwrap.indent(answer, '    ')}\n"


NOTES = "The instructor's notes, which no submission may change.\n"
# The intruder's answer cells. The first two answer their exercises only if the sandbox let them
# read a secret or reach the host, so that a leak shows in the scores; the third tries to write
# outside its scratch folder, then answers; the last exercise is answered properly.
INTRUDER_READS = """\
import pathlib
read = []
for path in {paths!r}:
    try:
        read.append(len(pathlib.Path(path).read_bytes()))
    except OSError:
        pass
"""
INTRUDER_CONNECTS = """\
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
    connected = True
except OSError:
    connected = False
"""
INTRUDER_WRITES = """\
import pathlib
for path in {paths!r}:
    try:
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(path).write_text("the intruder was here")
    except OSError:
        pass
"""


# Dishonest submissions: each tries to get marks it did not earn, to read the hidden checks, or
# to harm the batch. Answer cells not named stay blank.
PATCH_OTTER = """\
import pickle
import otter.test_files as test_files
_dump = pickle.dump
def _all_passed(results, stream, *args, **kwargs):
    if isinstance(results, test_files.GradingResults):
        for test_file in results.results.values():
            for outcome in test_file.test_case_results:
                object.__setattr__(outcome, "passed", True)
    return _dump(results, stream, *args, **kwargs)
pickle.dump = _all_passed
pool_shape = ...
conv_parameters = ...
"""
FORGED = """\
import json, os, glob
questions = {{
    name: {{"score": 100, "possible": 2, "checks": [], "student": "victim"}}
    for name in {questions!r}
}}
forged = {{"status": "graded", "detail": "", "questions": questions, "errors": [],
          "student": "victim"}}
"""
FORGE_AND_EXIT = (
    FORGED
    + """\
for folder in ("/home/student", os.getcwd()):
    try:
        with open(os.path.join(folder, "result.json"), "w") as stream:
            json.dump(forged, stream)
    except OSError:
        pass
os.kill(os.getppid(), 9)
"""
)
WATCHER = (
    FORGED
    + """\
import subprocess, sys, time
watcher = '''
import json, os, sys, time
forged, path = sys.argv[1], os.path.join(sys.argv[2], "result.json")
for _ in range(2000000):
    try:
        if json.load(open(path)).get("student") != "victim":
            open(path, "w").write(forged)
            break
    except (OSError, ValueError):
        time.sleep(0.0005)
'''
subprocess.Popen(
    [sys.executable, "-c", watcher, json.dumps(forged), os.getcwd()],
    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
pool_shape = ...
conv_parameters = ...
"""
)
PICKLE_SWAP = (
    FORGED
    + """\
import subprocess, sys
swapper = '''
import glob, json, os, pickle, sys, time
forged, home = sys.argv[1], sys.argv[2]
code = ("import os; open(%r, 'w').write(%r); os._exit(0)"
        % (os.path.join(home, "result.json"), forged))
class Payload:
    def __reduce__(self):
        return (exec, (code,))
for _ in range(400000):
    found = glob.glob("/tmp/*/results/results.pkl") + glob.glob("/tmp/*/*/results/results.pkl")
    if found:
        time.sleep(0.01)
        with open(found[0], "wb") as stream:
            pickle.dump(Payload(), stream)
        break
    time.sleep(0.001)
'''
subprocess.Popen(
    [sys.executable, "-c", swapper, json.dumps(forged), os.getcwd()],
    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
pool_shape = ...
conv_parameters = ...
"""
)
SMUGGLE = """\
import glob, zipfile
text = ""
for path in glob.glob("/home/student/*.zip") + glob.glob("*.zip"):
    with zipfile.ZipFile(path) as archive:
        text += "".join(
            archive.read(name).decode() for name in archive.namelist() if "tests/" in name
        )
hidden = [line.strip() for line in text.splitlines() if "def check_" in line]
raise ValueError(" | ".join(hidden) or "found no checks")
"""
LOG_LINK = """\
import os
for folder in ("/home/student", os.getcwd()):
    try:
        os.remove(os.path.join(folder, "log.txt"))
    except OSError:
        pass
    try:
        os.symlink({target!r}, os.path.join(folder, "log.txt"))
    except OSError:
        pass
os.kill(os.getppid(), 9)
"""
BASE_EXCEPTION = "def build_model():\n    raise SystemExit('no model today')\n"
FORK = """\
import subprocess, sys
sleepers = []
try:
    for _ in range(600):
        sleepers.append(subprocess.Popen(["sleep", "60"]))
    forked = True
except OSError:
    forked = False
for sleeper in sleepers:
    sleeper.kill()
    sleeper.wait()
"""
CHILDREN = """\
import subprocess, sys
hog = "import numpy, time; a = numpy.ones(2**27); print('held', flush=True); time.sleep(8)"
children = [
    subprocess.Popen([sys.executable, "-c", hog], stdout=subprocess.PIPE) for _ in range(4)
]
allocated = all(child.stdout.readline().strip() == b"held" for child in children)
"""
FILL = """\
filled = True
try:
    for number in range(56):  # 3.5 GiB, in files under the largest file allowed
        with open(f"/dev/shm/filler-{number}", "wb") as stream:
            stream.write(b"x" * 2**26)
except OSError:
    filled = False
"""


def attacks(answers, secret, separately=False):
    """{student: changes} of the dishonest submissions of TROUBLE_CHAPTER (see above)."""
    questions = [
        "parameters-by-hand",
        "parameters-to-keras",
        "parameters-from-keras",
        "parameters-budget",
    ]
    if separately:  # one notebook per attack, as the table of the grader's history shows
        forgers = {
            "patched-checker": {0: PATCH_OTTER},
            "forged-result": {0: FORGE_AND_EXIT.format(questions=questions)},
            "forged-watcher": {0: WATCHER.format(questions=questions)},
            "pickle-swap": {0: PICKLE_SWAP.format(questions=questions)},
            "log-link": {0: LOG_LINK.format(target=str(secret))},
        }
    else:  # fewer notebooks, so that the tests run faster: the same cells, put together
        forgers = {
            "forger": {
                0: PATCH_OTTER,
                1: WATCHER.format(questions=questions),
                2: PICKLE_SWAP.format(questions=questions),
            },
            "killer": {
                0: FORGE_AND_EXIT.format(questions=questions).replace(
                    "os.kill(os.getppid(), 9)\n", LOG_LINK.format(target=str(secret))
                )
            },
        }
    return {
        **forgers,
        "smuggler": {1: SMUGGLE},
        "base-exception": {0: answers[0], 1: BASE_EXCEPTION, 2: answers[2], 3: answers[3]},
        "fork-bomb": {1: guarded(FORK, "forked", answers[1])},
        "memory-children": {1: guarded(CHILDREN, "allocated", answers[1])},
        "tmpfs-filler": {1: guarded(FILL, "filled", answers[1])},
    }


def solution_lines(exercise, exercises):
    """The lines of an exercise's reference answers that a student's file must not hold (those
    that the chapter's tasks, given cells and public checks do not show anyway)."""
    shown = "\n".join(
        text
        for other in exercises
        for text in [other.prompt, *other.public_checks, *(c.source for c in other.given)]
    )
    lines, inside = [], False
    for cell in exercise.solution:
        for line in cell.source.splitlines():
            if "# END SOLUTION" in line:
                inside = False
            if line.rstrip().endswith("# SOLUTION"):
                lines.append(line.removesuffix("# SOLUTION").strip())
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
            if "# BEGIN SOLUTION" in line:
                inside = True
    return [line for line in lines if line not in shown]


def leaks(texts, chapter, taught=""):
    """[(path, line)] for each line of the chapter's answers, and first line of its hidden
    checks, that a text holds; texts: (path, text) pairs (file_texts); lines in taught (what
    the pages teach anyway) do not count."""
    exercises = assignments.read_exercises(chapter)
    secrets = [
        secret
        for exercise in exercises
        for secret in solution_lines(exercise, exercises)
        + [check.splitlines()[0] for check in exercise.hidden_checks]
        if secret not in taught
    ]
    return [(str(path), secret) for path, text in texts for secret in secrets if secret in text]


def file_texts(folder):
    """(path, text) of every file under folder, and of every member of its zip files (the
    exercise downloads, wheels) as 'path!member': what a leak test scans."""
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        yield path, path.read_bytes().decode("utf-8", "replace")
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    text = archive.read(member).decode("utf-8", "replace")
                    yield f"{path}!{member}", text


def small_book(folder, page, execute="force"):
    """Write a one-page book, page.md holding page after the MyST header, with the book's
    extensions and the given execute_notebooks setting; return page.md's path."""
    folder.mkdir()
    (folder / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (folder / "_config.yml").write_text(
        f"title: A page\nexecute:\n  execute_notebooks: {execute}\n"
        "parse:\n  myst_enable_extensions: [colon_fence, dollarmath]\n"
        "sphinx:\n  extra_extensions: [sphinx_exercise, cnnbook.book.sphinx_extension]\n"
    )
    (folder / "page.md").write_text(MYST_HEADER + page)
    return folder / "page.md"


def build_book(folder, **environment):
    """Build the book at folder with jupyter-book (environment added); return its HTML folder."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", "--warningiserror", folder],
        capture_output=True,
        text=True,
        env={**os.environ, **environment},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Path(folder) / "_build" / "html"
