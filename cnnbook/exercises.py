"""What the exercises' checks share: telling an answer that is still `...` from a wrong one.
Used by the exercises at the end of every chapter, from chapter 1 on.

The chapters end with exercises whose checks are small functions (see ``cnnbook.assignments``).
A check starts with ``exercises.require(name=value)``: an answer that is still the placeholder
``...`` of the exercise notebook, or that was never set because its cell has not run, is
reported as not attempted rather than as wrong.
"""


class NotAttempted(AssertionError):
    """An exercise's answer is still the placeholder `...`, or its cell has not run."""


def is_placeholder(value):
    """True for `...` or None, and for a non-empty list, tuple or dict holding only those."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)) and value:
        return all(is_placeholder(item) for item in value)
    return value is ... or value is None


def require(**answers):
    """Raise NotAttempted naming the first answer that is still a placeholder (see above)."""
    for name, value in answers.items():
        if is_placeholder(value):
            raise NotAttempted(
                f"{name} has no answer yet: replace the ... in its cell with your answer, run "
                "that cell, then run this check again"
            )
