"""Every check of a chapter, public and hidden, run on the host on a notebook's exported
answers (`answers.load`): in a process of its own that never runs the submission's code, only
reads its validated export, and writes what each check said.

    python -m cnnbook.course.checking MEMORY_BYTES   # then one request per line (`serve`)

A check's message is kept for a public check that failed an assertion (its hint), never for a
hidden one; an exception is kept by the name of its class only (Python's own, or NotAttempted).
"""

import json
import os
import resource
import sys
from pathlib import Path

from cnnbook.course import answers


def check_question(question: dict, folder: Path) -> list[dict]:
    """The outcome of each of a question's checks on the answers exported for it."""
    outcomes = []
    for check in question["checks"]:
        outcome = {"hidden": check["hidden"], "passed": False, "error": "", "message": ""}
        try:
            values = answers.load(folder, question["name"], question["names"])
            missing = [name for name in check["parameters"] if values[name] is answers.Missing]
            if missing:
                outcome |= {
                    "error": "NotAttempted",
                    "message": f"{missing[0]} is not defined: run its cell, then the check",
                }
            else:
                function = answers.define(check)
                function(**{name: values[name] for name in check["parameters"]})
                outcome["passed"] = True
        except answers.Invalid as error:
            outcome |= {"error": "Invalid", "message": str(error)}
        except BaseException as error:  # noqa: BLE001 - whatever a check raises fails it alone
            name = answers.error_name(error)
            hint = str(error) if isinstance(error, AssertionError) else ""
            outcome |= {"error": name, "message": hint}
        if check["hidden"] and outcome["error"] != "Invalid":
            outcome["message"] = ""
        outcomes.append(outcome)
    return outcomes


def check_all(bundle: dict, folder: Path) -> dict:
    """{question: {"checks": [outcome, ...]}} for every question of a chapter's bundle."""
    return {
        question["name"]: {"checks": check_question(question, folder)}
        for question in bundle["questions"]
    }


def serve(memory_bytes) -> None:
    """On the host: under a memory limit, check one export per line of standard input
    (``QUESTIONS_JSON ANSWERS_FOLDER RESULT_JSON``, tab-separated), writing its outcomes as JSON
    and answering ``done`` on standard output. Keras is imported once, for every submission."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    protocol, sys.stdout = sys.stdout, sys.stderr  # what a check prints is not an answer
    import keras  # noqa: F401 - once, before the first request

    print("ready", file=protocol, flush=True)
    for line in sys.stdin:
        questions_path, folder, result_path = line.rstrip("\n").split("\t")
        bundle = json.loads(Path(questions_path).read_text())
        result = check_all(bundle, Path(folder))
        Path(result_path).write_text(json.dumps({"questions": result}))
        print("done", file=protocol, flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
