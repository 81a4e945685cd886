"""What runs inside the grading sandbox, and nothing else: the submitted notebook, under the
submission's limits, exporting its answers as plain data (`answers.export`). No check runs
here, public or hidden, and no grading bundle is here to be read: the host checks the export.

    python -m cnnbook.course.inside NOTEBOOK PLAN_JSON ANSWERS_FOLDER MEMORY_BYTES PROCESSES

Each ``grader.check("label")`` cell becomes an export of that label's answers, so each exercise
is exported as it stood when its check ran; an exercise whose check cell is gone is exported at
the end. ``ANSWERS_FOLDER/cells.json`` lists the exceptions the cells raised, each with the
exercise whose check follows it, and whether the kernel died.
"""

import json
import re
import resource
import sys
from pathlib import Path

MAX_FILE_BYTES = 2**30  # the largest file a submission may write while it is graded
CHECK_CELL = re.compile(r"^\s*grader\.check\(\s*[\"']([^\"']+)[\"']\s*\)\s*$")
OTTER_INIT = "otter.Notebook("


def export_cell(label: str, plan: Path, folder: Path) -> str:
    """The code that exports one exercise's answers from the kernel's globals."""
    return (
        '__import__("cnnbook.course.answers", fromlist=["export"]).export('
        f"{label!r}, globals(), {str(plan)!r}, {str(folder)!r})"
    )


def prepared(notebook, plan: dict, plan_path: Path, folder: Path) -> list:
    """The notebook's cells to run: otter's cells replaced by exports; [(cell, label or None)]."""
    import nbformat

    cells, seen = [], set()
    for cell in notebook.cells:
        if cell.cell_type != "code" or OTTER_INIT in cell.source:
            continue
        match = CHECK_CELL.match(cell.source)
        if match and match.group(1) in plan:
            label = match.group(1)
            seen.add(label)
            cells.append((nbformat.v4.new_code_cell(export_cell(label, plan_path, folder)), label))
        else:
            cells.append((nbformat.v4.new_code_cell(cell.source), None))
    for label in plan:
        if label not in seen:
            cells.append((nbformat.v4.new_code_cell(export_cell(label, plan_path, folder)), label))
    return cells


def work(notebook_path, plan_path, folder, memory_bytes, processes) -> None:
    """Inside the sandbox: limit this process tree, run the notebook, export its answers."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    plan_path, folder = Path(plan_path), Path(folder)
    folder.mkdir(exist_ok=True)
    plan = json.loads(plan_path.read_text())
    cells = prepared(nbformat.read(notebook_path, as_version=4), plan, plan_path, folder)
    notebook = nbformat.v4.new_notebook(cells=[cell for cell, _ in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    client = NotebookClient(
        notebook,
        timeout=None,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(notebook_path).parent)}},
    )
    died = False
    try:
        client.execute()
    except DeadKernelError:
        died = True
    errors, pending = [], []
    for cell, label in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                pending.append(str(output.get("ename", ""))[:100])
        if label is not None:
            errors += [{"question": label, "ename": name} for name in pending]
            pending = []
    (folder / "cells.json").write_text(json.dumps({"errors": errors, "kernel_died": died}))


if __name__ == "__main__":
    work(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
