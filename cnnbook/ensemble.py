"""Combining several trained models by majority vote. Introduced in chapter 5.

Each model votes for its most probable class, and the class with the most votes wins. A tie
between classes goes to the tied class with the largest summed probability over all models;
should that tie too, to the smallest class number.
"""

import numpy as np


def votes(probabilities):
    """How many models vote for each class: (n, classes) counts from (models, n, classes)."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 3:
        raise ValueError(
            f"probabilities should be (models, n, classes), got shape {probabilities.shape}; "
            "stack the models' predictions with np.stack([m.predict(x) for m in models])"
        )
    return np.eye(probabilities.shape[2], dtype=int)[probabilities.argmax(axis=2)].sum(axis=0)


def majority_vote(probabilities):
    """The winning class of each image, (n,), from (models, n, classes) predicted probabilities."""
    counts = votes(probabilities)
    tied = counts == counts.max(axis=1, keepdims=True)
    summed = np.asarray(probabilities, dtype=float).sum(axis=0)
    return np.where(tied, summed, -np.inf).argmax(axis=1)
