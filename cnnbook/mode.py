"""Quick or full mode: the one switch (``CNNBOOK_MODE``) that sets how much the chapters train.
Introduced in chapter 4.

Quick mode is the default: it is what the tests, CI and a first ``make book`` run, so that the
whole book executes in minutes on two CPU cores. Full mode trains on all the data for the
epochs the lecture notes use and reproduces their accuracies. Chapters never read the switch
themselves; they ask for sizes here (``sizes().samples("mnist")``, ``sizes().epochs(12)``), so
both modes run the same code. Every size of every data set is in the one table, `SIZES`.
"""

import dataclasses
import os
import typing

DEFAULT_MODE = "quick"


class Samples(typing.NamedTuple):
    """How many training and test examples of a data set a mode uses."""

    train: int
    test: int


class Experiment(typing.NamedTuple):
    """The sizes of a small experiment: training and test examples, and epochs."""

    train: int
    test: int
    epochs: int


class Genomics(typing.NamedTuple):
    """The simulated population of chapter 13 and how its predictors are compared."""

    individuals: int
    markers: int  # SNPs per individual
    folds: int  # of the cross-validation
    seeds: int  # repeats of the cross-validation, each with new folds and network weights
    epochs: int  # of each network's training


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much data and how many epochs the chapters train with in one mode."""

    mode: str
    data: dict  # data set name -> Samples (flowers: test is also the validation split's size)
    max_epochs: int | None  # None: as many epochs as the notes use
    shortcuts: Experiment  # chapter 7: a deep plain stack against the same with shortcuts
    photo_size: int  # side in pixels the photo chapters resize the flower photos to
    lime_samples: int  # perturbed copies per LIME explanation (the notes: 1,000)
    genomics: Genomics  # chapter 13: the simulated population and the comparison

    def samples(self, dataset):
        """The Samples (train, test) of a data set, e.g. samples("mnist")."""
        if dataset not in self.data:
            raise ValueError(
                f"no sizes for data set {dataset!r}; add it to cnnbook.mode.SIZES (known: "
                f"{', '.join(sorted(self.data))})"
            )
        return self.data[dataset]

    def epochs(self, notes_epochs):
        """Return the epochs to train for a model the notes train for notes_epochs."""
        if self.max_epochs is None:
            return notes_epochs
        return min(notes_epochs, self.max_epochs)

    def share(self, dataset, split):
        """How much of a data set's split ("train" or "test") this mode uses, for a page's
        prose: 'all 60,000' when it uses as many as full mode, else 'the first 10,000 of
        the 60,000'."""
        used = getattr(self.samples(dataset), split)
        whole = getattr(SIZES["full"].samples(dataset), split)
        return f"all {whole:,}" if used >= whole else f"the first {used:,} of the {whole:,}"

    def epochs_words(self, notes_epochs, whose="the notes'"):
        """The epochs this mode trains a model for, for a page's prose: "the notes' 12
        epochs" when it trains all of them, else "3 of the notes' 12 epochs"."""
        used = self.epochs(notes_epochs)
        if used == notes_epochs:
            return f"{whose} {notes_epochs} epochs"
        return f"{used} of {whose} {notes_epochs} epochs"

    def _repr_pretty_(self, printer, cycle):
        """In a notebook: one field (and data set) a line, to fit the book's code boxes."""
        lines = ["Sizes("]
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, dict):
                items = [f"        {name!r}: {samples!r}," for name, samples in value.items()]
                lines += [f"    {field.name}={{", *items, "    },"]
            else:
                lines.append(f"    {field.name}={value!r},")
        printer.text("\n".join([*lines, ")"]))


SIZES = {
    "quick": Sizes(
        "quick",
        {
            "mnist": Samples(10_000, 2_000),
            "flowers": Samples(400, 100),
            "peptides": Samples(8_000, 2_376),
        },
        max_epochs=3,
        shortcuts=Experiment(1_000, 1_000, 8),
        photo_size=64,
        lime_samples=100,
        genomics=Genomics(individuals=500, markers=400, folds=2, seeds=1, epochs=15),
    ),
    "full": Sizes(
        "full",
        {
            "mnist": Samples(60_000, 10_000),
            "flowers": Samples(866, 300),
            "peptides": Samples(21_384, 2_376),
        },
        max_epochs=None,
        shortcuts=Experiment(10_000, 10_000, 15),
        photo_size=128,
        lime_samples=1000,
        genomics=Genomics(individuals=2_000, markers=2_000, folds=5, seeds=3, epochs=50),
    ),
}


def current():
    """Return the mode name from CNNBOOK_MODE ('quick' when unset)."""
    mode = os.environ.get("CNNBOOK_MODE", "").strip().lower() or DEFAULT_MODE
    if mode not in SIZES:
        raise ValueError(
            f"CNNBOOK_MODE={os.environ['CNNBOOK_MODE']!r} is not a mode; set it to one of "
            f"{', '.join(SIZES)} (or leave it unset for {DEFAULT_MODE!r})"
        )
    return mode


def sizes():
    """Return the Sizes of the current mode."""
    return SIZES[current()]
