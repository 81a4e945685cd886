"""The model cache: each trained model is kept once, under a key of everything that made it.

An entry is a folder ``<cache>/models/<key>/`` with the model (``model.keras``) and its record
(``record.json``: what was trained, the per-epoch history, the timings), where ``<cache>`` is
``cnnbook.data.cache_dir()``, so ``CNNBOOK_CACHE_DIR`` moves it. An entry is written into a
temporary folder and published with one ``os.replace``: readers see a whole entry or none, so
concurrent builds cannot corrupt it. An entry that cannot be read is removed and retrained.
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path

import keras

import cnnbook.data

FORMAT = 1  # raise when the layout of an entry changes: every key changes with it
MODEL_FILE = "model.keras"
RECORD_FILE = "record.json"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; publishing stays atomic all the same
    fcntl = None


def directory():
    """The folder that holds the entries (it need not exist yet)."""
    return cnnbook.data.cache_dir() / "models"


def key(description):
    """The key of a JSON-serialisable description: 32 hex digits of its SHA-256."""
    text = json.dumps({"format": FORMAT, **description}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load(key):
    """The stored (model, record) for key, or None when there is none or it cannot be read."""
    folder = directory() / key
    if not folder.is_dir():
        return None
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
        if record.get("key") != key:
            raise ValueError(f"its record belongs to key {record.get('key')!r}")
        model = keras.saving.load_model(folder / MODEL_FILE)
    except Exception as error:  # any failure to read means the entry is damaged: retrain
        warnings.warn(
            f"the model cache entry {folder} cannot be read ({type(error).__name__}: {error}); "
            "it is removed and the model trained again",
            stacklevel=2,
        )
        _discard(folder)
        return None
    return model, record


def store(key, model, record):
    """Save model and record (a JSON-serialisable dict) as the entry for key, atomically."""
    root = directory()
    root.mkdir(parents=True, exist_ok=True)
    draft = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        model.save(draft / MODEL_FILE)
        (draft / RECORD_FILE).write_text(json.dumps({**record, "key": key}, indent=1))
        try:
            os.replace(draft, root / key)
        except OSError:
            if not (root / key).is_dir():  # not "another process published it first"
                raise
    finally:
        shutil.rmtree(draft, ignore_errors=True)


@contextlib.contextmanager
def lock(key):
    """Hold an exclusive lock on key, so that concurrent builds train a model only once."""
    if fcntl is None:
        yield
        return
    root = directory()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as handle:
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
