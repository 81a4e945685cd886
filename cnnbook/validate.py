"""The checks of arguments that the whole package shares, one per idea: a whole number, a
pair of them, a padding, an input shape. Each returns the value in its standard form or raises
a ValueError that says what was wrong and what to pass instead.
"""

import numbers

import numpy as np

PADDING_MODES = ("valid", "same")


def whole_number(value, name, minimum=1):
    """Return value as an int; raise ValueError unless it is a whole number >= minimum.

    The book's one check of a count or size (filters, epochs, samples, ...).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be a whole number, got {value!r}; use an int, e.g. {name}={minimum + 1}"
        )
    if value < minimum:
        raise ValueError(
            f"{name} must be at least {minimum}, got {value}; use e.g. {name}={max(minimum, 1)}"
        )
    return int(value)


def pair(value, name, minimum):
    """Return an int or a pair of ints as a validated (rows, columns) pair."""
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(
                f"{name} must be an int or a pair (rows, columns), got {value!r} with "
                f"{len(value)} entries; pass e.g. {name}=({minimum + 1}, {minimum + 1})"
            )
        return tuple(whole_number(v, name, minimum) for v in value)
    value = whole_number(value, name, minimum)
    return value, value


def padding(value, numbers=True):
    """Return padding as 'valid', 'same' or (if numbers) a validated (rows, columns) pair.

    The words are lower case, as Keras writes them: "SAME" is refused with the fix.
    """
    if isinstance(value, str) or not numbers:
        if value not in PADDING_MODES:
            raise ValueError(
                f"padding must be 'valid', 'same'{', an int or a pair of ints' if numbers else ''}"
                f", got {value!r}; "
                f"use padding='same' to keep the size or padding='valid' for no padding"
            )
        return value
    return pair(value, "padding", 0)


def input_shape(value):
    """value as a tuple (height, width, channels) of positive whole numbers, or ValueError."""
    shape = tuple(value)
    if len(shape) != 3 or not all(
        isinstance(size, numbers.Integral) and not isinstance(size, bool) and size > 0
        for size in shape
    ):
        raise ValueError(
            f"input_shape {value!r} should be (height, width, channels) of positive "
            "whole numbers, e.g. (28, 28, 1)"
        )
    return tuple(int(size) for size in shape)
