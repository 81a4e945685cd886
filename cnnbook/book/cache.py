"""The result cache: each expensive result (a trained model, a feature array) is computed once
and kept under a key of everything that made it.

``cached(description, compute)`` returns the stored result for that description, or calls
``compute()`` and stores what it returns. An entry is a folder ``<cache>/models/<key>/`` with
the value (``model.keras`` for a Keras model, ``arrays.npz`` for arrays) and its record
(``record.json``: what was computed, and anything compute() reports, such as the per-epoch
history), where ``<cache>`` is the user cache (``CNNBOOK_CACHE_DIR`` moves it). An entry is
written into a temporary folder and published with one ``os.replace``: readers see a whole
entry or none, so concurrent builds cannot corrupt it; a per-key lock makes concurrent builds
compute it once. An entry that cannot be read is removed and computed again.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np

from cnnbook.datasets import registry

FORMAT = 1  # raise when the layout of an entry changes: every key changes with it
MODEL_FILE = "model.keras"
ARRAYS_FILE = "arrays.npz"
RECORD_FILE = "record.json"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; publishing stays atomic all the same
    fcntl = None


@dataclasses.dataclass
class Entry:
    """A cached result: the value, its record, its key, and whether it came from the cache."""

    value: object  # a keras.Model, or a dict of NumPy arrays
    record: dict
    key: str
    from_cache: bool


def directory():
    """The folder that holds the entries (it need not exist yet)."""
    return registry.cache_dir() / "models"


def key(description):
    """The key of a JSON-serialisable description: 32 hex digits of its SHA-256."""
    text = json.dumps({"format": FORMAT, **description}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint(array):
    """Shape, dtype and BLAKE2 digest of an array's contents, for a description."""
    array = np.ascontiguousarray(array)
    digest = hashlib.blake2b(array.view(np.uint8), digest_size=16).hexdigest()
    return {"shape": list(array.shape), "dtype": str(array.dtype), "blake2b": digest}


def cached(description, compute):
    """The Entry for description: stored, or made by compute() -> (value, record) and stored."""
    entry_key = key(description)
    with lock(entry_key):
        found = load(entry_key)
        if found is not None:
            return Entry(*found, entry_key, True)
        value, record = compute()
        store(entry_key, value, record)
    return Entry(value, {**record, "key": entry_key}, entry_key, False)


def load(entry_key):
    """The stored (value, record) for a key, or None when there is none or it cannot be read."""
    folder = directory() / entry_key
    if not folder.is_dir():
        return None
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
        if record.get("key") != entry_key:
            raise ValueError(f"its record belongs to key {record.get('key')!r}")
        if (folder / MODEL_FILE).is_file():
            import keras

            value = keras.saving.load_model(folder / MODEL_FILE)
        else:
            with np.load(folder / ARRAYS_FILE, allow_pickle=False) as arrays:
                value = {name: arrays[name] for name in arrays.files}
    except Exception as error:  # any failure to read means the entry is damaged: recompute
        warnings.warn(
            f"the cache entry {folder} cannot be read ({type(error).__name__}: {error}); "
            "it is removed and computed again",
            stacklevel=3,
        )
        _discard(folder)
        return None
    return value, record


def store(entry_key, value, record):
    """Save value (a Keras model or a dict of arrays) and record as the entry, atomically."""
    root = directory()
    root.mkdir(parents=True, exist_ok=True)
    draft = Path(tempfile.mkdtemp(prefix=f".{entry_key}-", dir=root))
    try:
        if isinstance(value, dict):
            np.savez(draft / ARRAYS_FILE, **value)
        else:
            value.save(draft / MODEL_FILE)
        (draft / RECORD_FILE).write_text(json.dumps({**record, "key": entry_key}, indent=1))
        try:
            os.replace(draft, root / entry_key)
        except OSError:
            if not (root / entry_key).is_dir():  # not "another process published it first"
                raise
    finally:
        shutil.rmtree(draft, ignore_errors=True)


@contextlib.contextmanager
def lock(name):
    """Hold an exclusive lock on a name, so that concurrent builds compute an entry once."""
    if fcntl is None:
        yield
        return
    root = directory()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _discard(folder):
    """Move a damaged entry out of the way in one step, then delete it."""
    trash = folder.with_name(f".{folder.name}-damaged-{uuid.uuid4().hex}")
    try:
        os.replace(folder, trash)
    except OSError:
        return  # already moved by another process
    shutil.rmtree(trash, ignore_errors=True)
