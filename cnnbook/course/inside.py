"""What runs inside the grading sandbox, and nothing else: otter on one notebook, under the
submission's limits, writing its result as JSON. This file is the trust boundary: nothing here
runs on the grader's side, and nothing the grader runs is imported from here.

    python -m cnnbook.course.inside NOTEBOOK AUTOGRADER_ZIP RESULT_JSON MEMORY_BYTES
"""

import json
import re
import resource
import sys
from pathlib import Path

MAX_FILE_BYTES = 2**30  # the largest file a submission may write while it is graded
CHECK_CALL = re.compile(r"\.check\(\s*[\"']([^\"']+)[\"']")


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


if __name__ == "__main__":
    work(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
