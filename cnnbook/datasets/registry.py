"""The data registry: where each data file is looked for, how it is checked, where it comes from.

It names no data set: ``registry.json`` beside this file lists them, and each data set's
module in ``cnnbook.datasets`` reads its files through `path` or `locate`. Look-up order:
``$CNNBOOK_DATA_DIR`` (one folder, or several separated by ``:`` as in ``PATH``), then the user
cache
(``$CNNBOOK_CACHE_DIR`` or ``~/.cache/cnnbook``), then the canonical address. Files that are
found but wrong are reported and left in place.
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

REGISTRY_PATH = Path(__file__).resolve().parent / "registry.json"
CHECKSUMS = ("sha256", "md5")  # an entry gives one; Keras publishes MD5s for some weight files
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


def entry(name):
    """The registry entry of data set name; ValueError naming the known ones if there is none."""
    entries = registry()
    if name not in entries:
        raise ValueError(f"unknown data set {name!r}; known ones are {', '.join(sorted(entries))}")
    return entries[name]


def checksum(details):
    """The (algorithm, hex digest) an entry gives for its file."""
    for algorithm in CHECKSUMS:
        if details.get(algorithm):
            return algorithm, details[algorithm]
    raise ValueError(f"the registry entry {details.get('files')} gives none of {CHECKSUMS}")


def file_digest(path, algorithm="sha256"):
    """The hex digest of a file's contents."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(details):
    """Download a registry entry's file into the user cache, checked by its checksum."""
    import pooch  # imported here: only needed when nothing local was found

    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    fname = details["files"][0]
    algorithm, expected = checksum(details)
    return Path(
        pooch.retrieve(
            details["url"],
            known_hash=f"{algorithm}:{expected}",
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


def locate(name, find_in, wanted, download=True):
    """Run find_in(label, folder, names) over the search folders, then download (if allowed).

    wanted describes the files looked for, for the error message. find_in returns what it
    found in a folder, or None; a wrong file raises DataFileError. With download=False, None
    when nothing local was found.
    """
    details = entry(name)
    looked = []
    for label, folder in search_dirs():
        names = _listing(label, folder)
        found = find_in(label, folder, names)
        if found is not None:
            return found
        state = "" if folder.exists() else " (folder does not exist)"
        looked.append(f"{label} {folder}{state}: no {wanted}")
    if not download:
        return None
    if not details.get("url"):
        note = details.get("note", "no public copy")
        raise _not_found(name, looked, f"download: none, {note}")
    try:
        _download(details)
    except Exception as error:  # any network or checksum failure: explain, keep nothing
        raise _not_found(
            name,
            looked,
            f"download from {details['url']} failed ({type(error).__name__}: {error})",
        ) from error
    return find_in("user cache", cache_dir(), _listing("user cache", cache_dir()))


def find(name):
    """The local path of a single-file data set, checked by its checksum, or None if it is not
    on this machine; never downloads (for optional files such as VGG16's 528 MB of weights)."""
    return path(name, download=False)


def path(name, download=True):
    """Return the local path of a single-file data set, checked by its checksum; downloads it
    into the user cache if it is found nowhere."""
    details = entry(name)
    if "arrays" in details:
        raise ValueError(
            f"data set {name!r} is checked array by array, in any of several containers: load "
            f"it with cnnbook.datasets.{name}.load_data()"
        )
    (fname,) = details["files"]
    algorithm, expected = checksum(details)

    def find_in(label, folder, names):
        if fname not in names:
            return None
        file = folder / fname
        try:
            digest = file_digest(file, algorithm)
        except OSError as error:
            raise DataFileError(f"cannot read {file} ({error}); fix its permissions") from error
        if digest != expected:
            raise DataFileError(
                f"{file} is not the expected {name} file ({algorithm} {digest[:12]}..., "
                f"expected {expected[:12]}...); it may be truncated or a different version. It "
                f"was left in place: replace or remove it yourself."
            )
        return file

    return locate(name, find_in, fname, download)


def publish_folder(target, write):
    """Make the folder target with write(draft) unless it exists; returns target.

    write fills a temporary folder beside target, which is then renamed to target with one
    os.replace: a reader sees the whole folder or none, and a folder that exists is complete.
    """
    target = Path(target)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(draft)
        try:
            os.replace(draft, target)
        except OSError:
            if not target.is_dir():  # not "another process published it first"
                raise
    finally:
        shutil.rmtree(draft, ignore_errors=True)
    return target
