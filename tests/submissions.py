"""Real submissions for the exercise and grading tests, made from the notebooks that `cnnbook
assign` writes: answered with the reference, left blank, or with some answer cells replaced.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CNNBOOK = [str(Path(sys.executable).parent / "cnnbook")]  # the installed command
TROUBLE_CHAPTER = "03_parameters"
TIMEOUT = 60  # seconds per notebook: four times what one takes with two graded at once
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
