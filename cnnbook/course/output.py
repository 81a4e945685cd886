"""Files a tool writes into a folder the user owns (`cnnbook grade --out`, `cnnbook publish`):
it replaces or removes only the files it wrote there itself, and never follows a link.

What it wrote is listed in a manifest in the folder, each file before it is written, so that a
run killed midway leaves no file the next run would take for the user's.
"""

import json
import os
from pathlib import Path, PurePosixPath

from cnnbook.course import answers

MANIFEST_LIMIT = 2**26  # bytes: a manifest larger than this is not read


def is_safe_name(name: str) -> bool:
    """A relative path inside the folder: no '..', no absolute path, nothing inside a .git."""
    path = PurePosixPath(name)
    return (
        bool(name)
        and not path.is_absolute()
        and ".." not in path.parts
        and ".git" not in path.parts
        and "\\" not in name
    )


class Output:
    """The files a tool writes in folder, listed in folder/manifest; ours(name) says which
    names it may ever write (a manifest naming others is not obeyed)."""

    def __init__(self, folder, manifest: str, tool: str, ours=is_safe_name):
        self.folder, self.manifest, self.tool = Path(folder), manifest, tool
        self.ours = lambda name: is_safe_name(name) and ours(name)
        self.written: list[str] = []
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            previous = json.loads(answers.read_capped(self.folder / manifest, MANIFEST_LIMIT))
        except (OSError, ValueError):
            previous = []
        for name in previous if isinstance(previous, list) else []:
            path = self.folder / str(name)
            if self.ours(str(name)) and path.is_file() and not self._through_link(path):
                path.unlink()
                self._remove_empty_parents(path)

    def claim(self, names) -> None:
        """List names as written by the tool, refusing any that exist and are not its own."""
        new = [name for name in names if name not in self.written]
        for name in new:
            path = self.folder / name
            if not self.ours(name):
                raise ValueError(f"{name!r} is not a file {self.tool} writes")
            if self._through_link(path):
                raise ValueError(f"{path} lies behind a link; remove it or choose another --out")
            if os.path.lexists(path):
                raise ValueError(
                    f"{path} exists and was not written by `{self.tool}`; move it or choose "
                    "another --out"
                )
        self.written += new
        if new:
            self._list()

    def write(self, name: str, content: str | bytes) -> None:
        """Write folder/name (text or bytes), replacing only a file the tool wrote."""
        self.claim([name])
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._through_link(path):
            raise ValueError(f"{path} lies behind a link; remove it or choose another --out")
        if os.path.lexists(path):
            os.unlink(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        data = content.encode("utf-8") if isinstance(content, str) else content
        with os.fdopen(os.open(path, flags, 0o644), "wb") as stream:
            stream.write(data)

    def _through_link(self, path: Path) -> bool:
        """True if path, or a folder between the output folder and it, is a link."""
        relative = path.relative_to(self.folder)
        steps = [self.folder.joinpath(*relative.parts[:n]) for n in range(1, len(relative.parts))]
        return any(step.is_symlink() for step in [*steps, path])

    def _remove_empty_parents(self, path: Path) -> None:
        """Remove the folders between path and the output folder that are left empty."""
        for parent in path.parents:
            if parent == self.folder or self.folder not in parent.parents:
                return
            try:
                parent.rmdir()
            except OSError:
                return

    def _list(self) -> None:
        """Replace the manifest (never through a link) with the list of what was written."""
        listing = self.folder / f"{self.manifest}.new"
        listing.unlink(missing_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(listing, flags, 0o644), "w", encoding="utf-8") as stream:
            json.dump(self.written, stream, indent=0)
        os.replace(listing, self.folder / self.manifest)
