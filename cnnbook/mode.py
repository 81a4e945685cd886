"""Quick or full mode: the one switch (``CNNBOOK_MODE``) that sets how much the chapters train.

Quick mode is the default: it is what the tests, CI and a first ``make book`` run, so that the
whole book executes in minutes on two CPU cores. Full mode trains on all of MNIST for the
epochs the lecture notes use and reproduces their accuracies. Chapters never read the switch
themselves; they ask for sizes here, so both modes run the same code.
"""

import dataclasses
import os

DEFAULT_MODE = "quick"


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much data and how many epochs a chapter trains with."""

    mode: str
    train_samples: int
    test_samples: int
    max_epochs: int | None  # None: as many epochs as the notes use

    def epochs(self, notes_epochs):
        """Return the epochs to train for a model the notes train for notes_epochs."""
        if self.max_epochs is None:
            return notes_epochs
        return min(notes_epochs, self.max_epochs)


MODES = {
    "quick": Sizes("quick", train_samples=10_000, test_samples=2_000, max_epochs=3),
    "full": Sizes("full", train_samples=60_000, test_samples=10_000, max_epochs=None),
}


def current():
    """Return the mode name from CNNBOOK_MODE ('quick' when unset)."""
    mode = os.environ.get("CNNBOOK_MODE", "").strip().lower() or DEFAULT_MODE
    if mode not in MODES:
        raise ValueError(
            f"CNNBOOK_MODE={os.environ['CNNBOOK_MODE']!r} is not a mode; set it to one of "
            f"{', '.join(MODES)} (or leave it unset for {DEFAULT_MODE!r})"
        )
    return mode


def sizes():
    """Return the Sizes of the current mode."""
    return MODES[current()]
