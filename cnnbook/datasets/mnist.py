"""MNIST: the digits as `keras.datasets.mnist.load_data()` gives them, found offline through
the registry, and prepared for a CNN. Introduced in chapter 4.

`load_data` accepts MNIST in any container that holds the right arrays (Keras' ``mnist.npz``,
a re-saved npz, or the four original IDX files), each array checked by its digest.

Prepared digits are (n, 28, 28, 1) images scaled to [0, 1] and one-hot labels. The notes train
on all 60,000 training digits and validate on the test set, or hold out the last 10,000
training digits for validation (50,000 / 10,000). `split` holds out the same share, one sixth,
of however many training digits a mode uses.
"""

import dataclasses
import gzip
import hashlib
import zipfile

import keras
import numpy as np

from cnnbook import validate
from cnnbook.datasets import registry

KEYS = ("x_train", "y_train", "x_test", "y_test")
# Original IDX file stems, and the spellings they are found under (e.g. train-images.idx3-ubyte).
IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _read_idx(file):
    """Decode one IDX file (optionally gzipped) into an array."""
    opener = gzip.open if file.name.endswith(".gz") else open
    with opener(file, "rb") as stream:
        raw = stream.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError("not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)):
        raise ValueError(f"holds {len(body)} values, its header says {shape}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def _idx_file(stem, names):
    """Return the name under which an IDX file is present, or None."""
    dotted = stem.replace("-idx", ".idx")
    for candidate in (stem, dotted, stem + ".gz", dotted + ".gz"):
        if candidate in names:
            return candidate
    return None


def _read_mnist(folder, names):
    """Read MNIST's arrays from a folder: (source description, dict of arrays) or None."""
    if "mnist.npz" in names:
        file = folder / "mnist.npz"
        try:
            with np.load(file, allow_pickle=False) as archive:
                missing = [key for key in KEYS if key not in archive.files]
                if missing:
                    raise registry.DataFileError(
                        f"{file} lacks the arrays {missing} (it has {archive.files}); MNIST needs "
                        f"{list(KEYS)}. It was left in place: replace or remove it."
                    )
                return file, {key: archive[key] for key in KEYS}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            if isinstance(error, registry.DataFileError):
                raise
            raise registry.DataFileError(
                f"{file} cannot be read as an npz archive ({type(error).__name__}: {error}); "
                f"it may be truncated. It was left in place: replace or remove it yourself."
            ) from error
    found = {key: _idx_file(stem, names) for key, stem in IDX_STEMS.items()}
    if not any(found.values()):
        return None
    missing = [IDX_STEMS[key] for key, name in found.items() if name is None]
    if missing:
        raise registry.DataFileError(
            f"{folder} holds some of MNIST's IDX files but not {missing}; add them or move the "
            f"others away"
        )
    arrays = {}
    for key, name in found.items():
        try:
            arrays[key] = _read_idx(folder / name)
        except (OSError, ValueError, EOFError) as error:
            raise registry.DataFileError(
                f"{folder / name} cannot be read as an IDX file ({error}); it may be truncated. "
                f"It was left in place: replace or remove it yourself."
            ) from error
    return folder, arrays


def _check_mnist(source, arrays, expected):
    """Raise registry.DataFileError unless every array is MNIST's, by shape, dtype and digest."""
    for key in KEYS:
        array, want = arrays[key], expected[key]
        if array.shape != tuple(want["shape"]) or array.dtype != np.dtype(want["dtype"]):
            raise registry.DataFileError(
                f"{key} in {source} has shape {array.shape} and dtype {array.dtype}; MNIST's is "
                f"{tuple(want['shape'])} {want['dtype']}. It was left in place: replace it."
            )
        digest = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if digest != want["sha256"]:
            what = "labels" if key.startswith("y") else "images"
            raise registry.DataFileError(
                f"{key} in {source} has MNIST's shape but not MNIST's {what} (sha256 "
                f"{digest[:12]}..., expected {want['sha256'][:12]}...). It was left in place: "
                f"replace it with an unmodified copy."
            )


def load_data():
    """Return MNIST as ((x_train, y_train), (x_test, y_test)), like keras.datasets.mnist.

    Images are (n, 28, 28) uint8 and labels (n,) uint8. The file is never modified or deleted.
    """
    entry = registry.entry("mnist")

    def find_in(label, folder, names):
        found = _read_mnist(folder, names)
        if found is not None:
            _check_mnist(*found, entry["arrays"])
        return found

    wanted = "mnist.npz and no IDX files (" + ", ".join(IDX_STEMS.values()) + ")"
    _, arrays = registry.locate("mnist", find_in, wanted)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


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
            "or x_test as load_data() returns them"
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
    (x_train, y_train), (x_test, y_test) = load_data()
    for name, value, available in (
        ("train_samples", train_samples, len(x_train)),
        ("test_samples", test_samples, len(x_test)),
    ):
        if validate.whole_number(value, name) > available:
            raise ValueError(
                f"{name} {value!r} is more than MNIST's {available:,}; take the sizes from "
                "cnnbook.mode.sizes().samples('mnist')"
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
