"""A student's score rows and feedback: what each exercise scored, and why, in words that
quote only the public checks' hints (bounded), never a hidden check's message nor any text the
submission produced. Every score is the number of checks passed, at most the question's points.
"""

MAX_MESSAGE = 300  # characters of a check's hint quoted in the feedback
MAX_FEEDBACK = 20_000  # characters of one student's feedback


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
            if status == "invalid" and record.get("kernel_died"):
                status, message = "failed", "the kernel died (a cell ended Python) before it"
            score = min(sum(check["passed"] is True for check in result["checks"]), possible)
            rows.append(_row(record, name, score, possible, status, message))
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
    text = "\n".join(lines)
    return text if len(text) <= MAX_FEEDBACK else text[: MAX_FEEDBACK - 2] + "…\n"


def _question_notes(record: dict, row: dict) -> list[str]:
    """The feedback's bullet points for one question: what went wrong, and the public hints."""
    if row["status"] in ("not attempted", "out of memory"):
        return [f"- {row['message']}"]
    notes = [
        f"- A cell raised {error['ename']}."
        for error in record["errors"]
        if error["question"] == row["question"]
    ]
    checks = record["questions"].get(row["question"], {"checks": []})["checks"]
    public = [check for check in checks if not check["hidden"]]
    for index, check in enumerate(public, start=1):
        if not check["passed"]:
            said = short(check["message"]) or f"it raised {check['error']} on your answer"
            notes.append(f"- Check {index}: {said}")
    failed_hidden = sum(not check["passed"] for check in checks if check["hidden"])
    if failed_hidden:
        notes.append(f"- {failed_hidden} hidden check(s) failed.")
    return notes


def _question_status(checks, errors) -> tuple[str, str]:
    """The status of one question and the message of its first failing check."""
    failed = [check for check in checks if not check["passed"]]
    public = [check for check in failed if not check["hidden"]]
    message = (
        (public[0]["message"] or f"a check raised {public[0]['error']} on your answer")
        if public
        else "a hidden check failed"
        if failed
        else ""
    )
    if not failed:
        return "correct", ""
    if any(error["ename"] == "MemoryError" for error in errors):
        return "out of memory", "a cell ran out of memory: it needs more than one notebook may use"
    if any(check["error"] == "Invalid" for check in failed):
        return "invalid", next(c["message"] for c in failed if c["error"] == "Invalid")
    if errors:
        return "error", f"a cell raised {errors[0]['ename']}"
    if len(failed) == len(checks) and any(check["error"] == "NotAttempted" for check in failed):
        return "not attempted", message
    return ("partial" if len(failed) < len(checks) else "incorrect"), message


def _row(record, question, score, possible, status, message) -> dict:
    """One CSV row."""
    return {
        "student": record["student"],
        "chapter": record["chapter"] or "",
        "question": question,
        "score": score,
        "max_score": possible,
        "status": status,
        "message": short(message),
    }


def short(text: str) -> str:
    """text on one line, cut to MAX_MESSAGE characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
