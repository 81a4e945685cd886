"""The book's data sets: looked up locally first, downloaded (and checked) only as a last resort.

Look-up order for every data set in ``data/registry.json``: ``$CNNBOOK_DATA_DIR`` (one
folder, or several separated by ``:`` as in ``PATH``), then the user cache
(``$CNNBOOK_CACHE_DIR`` or ``~/.cache/cnnbook``), then the canonical address. Files that are
found but wrong are reported and left in place.
"""

import gzip
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

REGISTRY_PATH = Path(__file__).resolve().parent.parent / "data" / "registry.json"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
# Original IDX file stems, and the spellings they are found under (e.g. train-images.idx3-ubyte).
MNIST_IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
PROVIDE_HINT = (
    "To provide it, put the file(s) into a folder and set CNNBOOK_DATA_DIR to that folder "
    "(see data/README.md), or connect to the internet so it can be downloaded."
)


class DataNotFoundError(FileNotFoundError):
    """A data set was found in none of the places the book looks."""


class DataFileError(ValueError):
    """A data file was found but cannot be read or holds the wrong contents; it is left as is."""


def registry():
    """Return the data-set registry: name -> entry (files, url, sha256, ...)."""
    return json.loads(REGISTRY_PATH.read_text())


def cache_dir():
    """Return the user cache folder where downloads go (it need not exist yet)."""
    if os.environ.get("CNNBOOK_CACHE_DIR"):
        return Path(os.environ["CNNBOOK_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "cnnbook"


def search_dirs():
    """Return the local folders to look in, in order, as (label, path) pairs."""
    folders = os.environ.get("CNNBOOK_DATA_DIR", "").split(os.pathsep)  # one folder or several
    dirs = [("CNNBOOK_DATA_DIR", Path(folder).expanduser()) for folder in folders if folder]
    dirs.append(("user cache", cache_dir()))
    return dirs


def _listing(label, folder):
    """Return the names in folder (empty if it does not exist); unreadable folders raise."""
    if not folder.exists():
        return set()
    try:
        return set(os.listdir(folder))
    except PermissionError as error:
        raise DataFileError(
            f"cannot read the {label} folder {folder} ({error.strerror}); make it readable "
            f"(chmod u+rx) or point CNNBOOK_DATA_DIR at another folder"
        ) from error


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(name, entry):
    """Download a registry entry's file into the user cache, checked by its sha256."""
    import pooch  # imported here: only needed when nothing local was found

    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    fname = entry["files"][0]
    return Path(
        pooch.retrieve(
            entry["url"],
            known_hash=f"sha256:{entry['sha256']}",
            fname=fname,
            path=target,
            progressbar=False,
        )
    )


def _not_found(name, looked, download_note):
    places = "\n".join(f"  - {place}" for place in looked + [download_note])
    return DataNotFoundError(
        f"data set {name!r} was not found. Looked in:\n{places}\n{PROVIDE_HINT}"
    )


def _locate(name, entry, find_in, wanted):
    """Run find_in(label, folder, names) over the search folders, then download.

    wanted describes the files looked for, for the error message.

    find_in returns what it found in a folder, or None; a wrong file raises DataFileError.
    """
    looked = []
    for label, folder in search_dirs():
        names = _listing(label, folder)
        found = find_in(label, folder, names)
        if found is not None:
            return found
        state = "" if folder.exists() else " (folder does not exist)"
        looked.append(f"{label} {folder}{state}: no {wanted}")
    if not entry.get("url"):
        raise _not_found(name, looked, f"download: none, {entry.get('note', 'no public copy')}")
    try:
        _download(name, entry)
    except Exception as error:  # any network or checksum failure: explain, keep nothing
        raise _not_found(
            name, looked, f"download from {entry['url']} failed ({type(error).__name__}: {error})"
        ) from error
    return find_in("user cache", cache_dir(), _listing("user cache", cache_dir()))


def path(name):
    """Return the local path of a single-file data set, downloading it if needed."""
    entries = registry()
    if name not in entries:
        raise ValueError(f"unknown data set {name!r}; known ones are {', '.join(sorted(entries))}")
    entry = entries[name]
    if name == "mnist":
        raise ValueError("MNIST comes in several containers: use cnnbook.data.load_mnist()")
    (fname,) = entry["files"]

    def find_in(label, folder, names):
        if fname not in names:
            return None
        file = folder / fname
        try:
            digest = _sha256_file(file)
        except OSError as error:
            raise DataFileError(f"cannot read {file} ({error}); fix its permissions") from error
        if digest != entry["sha256"]:
            raise DataFileError(
                f"{file} is not the expected {name} file (sha256 {digest[:12]}..., expected "
                f"{entry['sha256'][:12]}...); it may be truncated or a different version. It was "
                f"left in place: replace or remove it yourself."
            )
        return file

    return _locate(name, entry, find_in, fname)


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
                missing = [key for key in MNIST_KEYS if key not in archive.files]
                if missing:
                    raise DataFileError(
                        f"{file} lacks the arrays {missing} (it has {archive.files}); MNIST needs "
                        f"{list(MNIST_KEYS)}. It was left in place: replace or remove it."
                    )
                return file, {key: archive[key] for key in MNIST_KEYS}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            if isinstance(error, DataFileError):
                raise
            raise DataFileError(
                f"{file} cannot be read as an npz archive ({type(error).__name__}: {error}); "
                f"it may be truncated. It was left in place: replace or remove it yourself."
            ) from error
    found = {key: _idx_file(stem, names) for key, stem in MNIST_IDX_STEMS.items()}
    if not any(found.values()):
        return None
    missing = [MNIST_IDX_STEMS[key] for key, name in found.items() if name is None]
    if missing:
        raise DataFileError(
            f"{folder} holds some of MNIST's IDX files but not {missing}; add them or move the "
            f"others away"
        )
    arrays = {}
    for key, name in found.items():
        try:
            arrays[key] = _read_idx(folder / name)
        except (OSError, ValueError, EOFError) as error:
            raise DataFileError(
                f"{folder / name} cannot be read as an IDX file ({error}); it may be truncated. "
                f"It was left in place: replace or remove it yourself."
            ) from error
    return folder, arrays


def _check_mnist(source, arrays, expected):
    """Raise DataFileError unless every array is MNIST's, by shape, dtype and digest."""
    for key in MNIST_KEYS:
        array, want = arrays[key], expected[key]
        if array.shape != tuple(want["shape"]) or array.dtype != np.dtype(want["dtype"]):
            raise DataFileError(
                f"{key} in {source} has shape {array.shape} and dtype {array.dtype}; MNIST's is "
                f"{tuple(want['shape'])} {want['dtype']}. It was left in place: replace it."
            )
        digest = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if digest != want["sha256"]:
            what = "labels" if key.startswith("y") else "images"
            raise DataFileError(
                f"{key} in {source} has MNIST's shape but not MNIST's {what} (sha256 "
                f"{digest[:12]}..., expected {want['sha256'][:12]}...). It was left in place: "
                f"replace it with an unmodified copy."
            )


def load_mnist():
    """Return MNIST as ((x_train, y_train), (x_test, y_test)), like keras.datasets.mnist.

    Images are (n, 28, 28) uint8 and labels (n,) uint8. The file is never modified or deleted.
    """
    entry = registry()["mnist"]

    def find_in(label, folder, names):
        found = _read_mnist(folder, names)
        if found is not None:
            _check_mnist(*found, entry["arrays"])
        return found

    wanted = "mnist.npz and no IDX files (" + ", ".join(MNIST_IDX_STEMS.values()) + ")"
    _, arrays = _locate("mnist", entry, find_in, wanted)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
