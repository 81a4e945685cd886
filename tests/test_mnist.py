"""MNIST prepared for a CNN, and the notes' 50,000 / 10,000 split."""

import numpy as np
import pytest

from cnnbook.datasets import mnist


def test_prepare_scales_reshapes_and_one_hot_encodes():
    images = np.array([[[0, 255] * 14] * 28, [[128] * 28] * 28], dtype=np.uint8)
    x, y = mnist.prepare(images, np.array([3, 9]))
    assert x.shape == (2, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0 and x.max() == 1 and x[1, 0, 0, 0] == pytest.approx(128 / 255)
    assert y.shape == (2, 10) and y.sum(axis=1).tolist() == [1, 1]
    assert mnist.labels(y).tolist() == [3, 9]


def test_load_takes_the_first_digits():
    digits = mnist.load(100, 20)
    assert digits.x_train.shape == (100, 28, 28, 1) and digits.y_test.shape == (20, 10)
    # MNIST's first training labels, as MANIFEST.md lists them
    assert mnist.labels(digits.y_train[:10]).tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.labels(digits.y_test[:10]).tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_the_split_is_the_notes_50000_10000():
    x, y = np.arange(60_000), np.arange(60_000)
    (x_train, y_train), (x_val, y_val) = mnist.split(x, y)
    assert len(x_train) == 50_000 and len(x_val) == 10_000
    assert x_val[0] == 50_000 and (y_val == x_val).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mnist.load(0, 10), "train_samples must be at least 1, got 0"),
        (lambda: mnist.load(100, 10_001), "test_samples 10001"),
        (lambda: mnist.prepare(np.zeros((2, 28, 27)), np.zeros(2)), r"\(n, 28, 28\)"),
        (lambda: mnist.prepare(np.zeros((2, 28, 28)), np.zeros(3)), "one label per image"),
        (lambda: mnist.split(np.zeros(10), np.zeros(9)), "give as many of each"),
    ],
)
def test_errors_say_what_to_do(call, message):
    with pytest.raises(ValueError, match=message):
        call()
