"""Peptides as a network's input (BLOSUM62 rows or one-hot), the networks of Jessen's
"Deep learning for cancer immunotherapy", which positions they use, and scoring new 9-mers.
Introduced in chapter 12 (predicting 9-mer peptide binding).

Every network takes encoded peptides of shape (n, 9, 20), one row of 20 values per residue,
and returns the probabilities (n, 3) of the classes NB, WB and SB.
"""

import inspect
import typing

import keras
import numpy as np
from Bio.Align import substitution_matrices

from cnnbook import training, validate
from cnnbook.book import cache, provenance
from cnnbook.datasets import peptides as peptide_data

AMINO_ACIDS = peptide_data.AMINO_ACIDS
LENGTH = peptide_data.LENGTH
CLASSES = peptide_data.CLASSES
ENCODINGS = ("blosum62", "one_hot")
BATCH_SIZE = 50  # the example's
VALIDATION_SPLIT = 0.2  # the example's: the last fifth of the training peptides


def blosum62():
    """BLOSUM62 from Biopython as a (20, 20) array, rows and columns in AMINO_ACIDS order."""
    matrix = substitution_matrices.load("BLOSUM62")
    return np.array([[matrix[a, b] for b in AMINO_ACIDS] for a in AMINO_ACIDS], dtype="float32")


def check(peptides):
    """The peptides as upper-case 9-letter strings; ValueError naming the first wrong entry."""
    if isinstance(peptides, str):
        raise ValueError(
            f"got the single string {peptides!r}; pass a list of peptides, e.g. [{peptides!r}]"
        )
    checked = []
    for index, peptide in enumerate(peptides):
        if not isinstance(peptide, str):
            raise ValueError(
                f"entry {index} is {peptide!r}, not a string; give each peptide as its 9 "
                "one-letter amino-acid codes, e.g. 'LLTDAQRIV'"
            )
        upper = peptide.strip().upper()
        if len(upper) != LENGTH:
            raise ValueError(
                f"entry {index} ({peptide!r}) has {len(upper)} letters; these networks read "
                f"{LENGTH}-mers only"
            )
        for position, letter in enumerate(upper, start=1):
            if letter not in AMINO_ACIDS:
                raise ValueError(
                    f"entry {index} ({peptide!r}) has {letter!r} at position {position}, which "
                    f"is not one of the 20 amino acids {AMINO_ACIDS}"
                )
        checked.append(upper)
    if not checked:
        raise ValueError("got no peptides; pass a list of 9-mers, e.g. ['LLTDAQRIV']")
    return checked


def encode(peptides, encoding="blosum62"):
    """Peptides (n 9-mers, any case) as (n, 9, 20) float32: each residue's BLOSUM62 row, or
    its one-hot row."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    table = blosum62() if encoding == "blosum62" else np.eye(len(AMINO_ACIDS), dtype="float32")
    indices = np.array([[AMINO_ACIDS.index(a) for a in p] for p in check(peptides)])
    return table[indices]


def dense_network():
    """The example's dense network: 180 inputs -> 180 ReLU -> 90 ReLU -> softmax over 3."""
    return keras.Sequential(
        [
            keras.Input(shape=(LENGTH, len(AMINO_ACIDS))),
            keras.layers.Flatten(name="flatten"),  # 9 × 20 values as one vector
            keras.layers.Dense(units=180, activation="relu", name="FC-180"),
            keras.layers.Dropout(rate=0.4, name="dropout0.4"),
            keras.layers.Dense(units=90, activation="relu", name="FC-90"),
            keras.layers.Dropout(rate=0.3, name="dropout0.3"),
            keras.layers.Dense(units=3, activation="softmax", name="softmax-3"),
        ],
        name="dense_network",
    )


def cnn_2d():
    """The example's CNN: 32 filters 3×3 over the 9 × 20 peptide 'image', then the dense net."""
    return keras.Sequential(
        [
            keras.Input(shape=(LENGTH, len(AMINO_ACIDS))),
            # the 9 × 20 values as an image with one channel
            keras.layers.Reshape((LENGTH, len(AMINO_ACIDS), 1), name="image"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv3-32"),
            keras.layers.Dropout(rate=0.25, name="dropout0.25"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(units=180, activation="relu", name="FC-180"),
            keras.layers.Dropout(rate=0.4, name="dropout0.4"),
            keras.layers.Dense(units=90, activation="relu", name="FC-90"),
            keras.layers.Dropout(rate=0.3, name="dropout0.3"),
            keras.layers.Dense(units=3, activation="softmax", name="softmax-3"),
        ],
        name="cnn_2d",
    )


def cnn_1d():
    """A 1D CNN: 32 filters that each read 3 neighbouring residues (all 20 values of each),
    slid along the 9 positions, then the dense net."""
    return keras.Sequential(
        [
            keras.Input(shape=(LENGTH, len(AMINO_ACIDS))),  # 9 positions, 20 channels
            keras.layers.Conv1D(32, 3, activation="relu", name="conv3-32"),
            keras.layers.Dropout(rate=0.25, name="dropout0.25"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(units=180, activation="relu", name="FC-180"),
            keras.layers.Dropout(rate=0.4, name="dropout0.4"),
            keras.layers.Dense(units=90, activation="relu", name="FC-90"),
            keras.layers.Dropout(rate=0.3, name="dropout0.3"),
            keras.layers.Dense(units=3, activation="softmax", name="softmax-3"),
        ],
        name="cnn_1d",
    )


def compile_and_fit(model, x, y, epochs):
    """Compile and train model as the example does; returns the history (name -> per epoch)."""
    model.compile(
        optimizer=keras.optimizers.RMSprop(**training.OPTIMIZERS["rmsprop"]),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        validation_split=VALIDATION_SPLIT,
        verbose=0,
    )
    return {name: [float(v) for v in values] for name, values in history.history.items()}


class Trained(typing.NamedTuple):
    """A trained network, its history (name -> one value per epoch), and whether it was cached."""

    model: keras.Model
    history: dict
    from_cache: bool


def train(build, x, y, epochs, seed=0):
    """build()'s network trained by compile_and_fit on encoded x (n, 9, 20) and one-hot y
    (n, 3), seeded, or loaded from the result cache if it was trained before."""
    epochs = validate.whole_number(epochs, "epochs")

    def compute():
        keras.utils.set_random_seed(seed)
        model = build()
        return model, {"history": compile_and_fit(model, x, y, epochs)}

    description = {
        "chapter": "peptides",
        "code": [inspect.getsource(build), inspect.getsource(compile_and_fit)],
        "data": [cache.fingerprint(x), cache.fingerprint(y)],
        "epochs": epochs,
        "seed": seed,
        "versions": provenance.versions(),
    }
    entry = cache.cached(description, compute)
    return Trained(entry.value, entry.record["history"], entry.from_cache)


def position_importance(predict, x, labels, repeats=5, seed=0):
    """How much accuracy drops when one position is shuffled among the peptides: (9,) drops.

    predict maps encoded peptides (n, 9, 20) to class probabilities (n, 3); labels are class
    numbers (n,). Each position's rows are permuted across peptides repeats times.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    baseline = np.mean(predict(x).argmax(axis=-1) == labels)
    drops = np.zeros(x.shape[1])
    for position in range(x.shape[1]):
        for _ in range(repeats):
            shuffled = x.copy()
            shuffled[:, position] = x[rng.permutation(len(x)), position]
            drops[position] += baseline - np.mean(predict(shuffled).argmax(axis=-1) == labels)
    return drops / repeats


class Score(typing.NamedTuple):
    """A peptide's predicted class and the probability of each class."""

    peptide: str
    predicted: str
    probabilities: dict  # class name -> probability


def score(model, peptides, encoding="blosum62"):
    """Score a list of 9-mers (any case) with a trained network: one Score per peptide."""
    checked = check(peptides)
    probabilities = model.predict(encode(checked, encoding), verbose=0)
    return [
        Score(peptide, CLASSES[row.argmax()], dict(zip(CLASSES, map(float, row), strict=True)))
        for peptide, row in zip(checked, probabilities, strict=True)
    ]
