"""MNIST prepared for a CNN: (n, 28, 28, 1) images scaled to [0, 1] and one-hot labels.

The notes train on all 60,000 training digits and validate on the test set, or hold out the
last 10,000 training digits for validation (50,000 / 10,000). `split` holds out the same
share, one sixth, of however many training digits a mode uses.
"""

import dataclasses

import keras
import numpy as np

import cnnbook.data

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
VALIDATION_SHARE = 6  # one digit in six is held out: 10,000 of 60,000


@dataclasses.dataclass(frozen=True)
class Digits:
    """Training and test digits: x as (n, 28, 28, 1) float32 in [0, 1], y one-hot (n, 10)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def prepare(images, labels):
    """Images (n, 28, 28) and labels (n,) as x (n, 28, 28, 1) in [0, 1] and one-hot y (n, 10)."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != INPUT_SHAPE[:2]:
        raise ValueError(
            f"images should have shape (n, 28, 28), got {images.shape}; pass MNIST's x_train "
            "or x_test as load_mnist() returns them"
        )
    if labels.shape != images.shape[:1]:
        raise ValueError(
            f"got {images.shape[0]} images but labels of shape {labels.shape}; give one label "
            "per image"
        )
    x = (images.astype("float32") / 255)[..., None]
    y = keras.utils.to_categorical(labels, NUM_CLASSES).astype("float32")
    return x, y


def load(train_samples, test_samples):
    """The first train_samples training and test_samples test digits of MNIST, prepared."""
    (x_train, y_train), (x_test, y_test) = cnnbook.data.load_mnist()
    for name, value, available in (
        ("train_samples", train_samples, len(x_train)),
        ("test_samples", test_samples, len(x_test)),
    ):
        if not isinstance(value, int) or not 1 <= value <= available:
            raise ValueError(
                f"{name} {value!r} should be a whole number from 1 to {available:,}; take the "
                "sizes from cnnbook.mode.sizes()"
            )
    return Digits(
        *prepare(x_train[:train_samples], y_train[:train_samples]),
        *prepare(x_test[:test_samples], y_test[:test_samples]),
    )


def split(x, y):
    """Hold out the last sixth of (x, y) for validation: ((x_train, y_train), (x_val, y_val))."""
    if len(x) != len(y) or len(x) < VALIDATION_SHARE:
        raise ValueError(
            f"cannot split {len(x)} images and {len(y)} labels; give as many of each, at least "
            f"{VALIDATION_SHARE}"
        )
    kept = len(x) - len(x) // VALIDATION_SHARE
    return (x[:kept], y[:kept]), (x[kept:], y[kept:])


def labels(y):
    """The class numbers (n,) of one-hot labels (n, classes)."""
    return np.asarray(y).argmax(axis=-1)
