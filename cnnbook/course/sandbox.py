"""The sandbox each submission runs in: bubblewrap's command line, the environment, the limits of
one submission, and stopping everything it started.

Where Debian's bubblewrap (``bwrap``) is installed, a notebook runs with no network, its own
user, process and IPC namespaces, no capabilities, ``/proc/sys`` read-only, and read-only
access to the system, the Python environment, the cnnbook package and the data
(`data_folders`) only. Its writable places (``SANDBOX_HOME``, ``/tmp``, ``/dev/shm``) are
folders of its own scratch folder. When the grader runs as root (CI does), each of the
``--jobs`` slots gets its own unprivileged user (`slot_user`) so that nothing in a sandbox runs
as root, the scratch folder is a tmpfs sized to the memory limit, and, where the kernel's
cgroups can be written, the whole submission gets one cgroup with its memory (tmpfs included),
process count and one core of CPU (`Cgroup`). Each folder, cgroup and run is named after the
grader that made it (`owner`), so that what a killed grader left is found and removed, and
nothing else (`remove_stale`).
"""

import contextlib
import dataclasses
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

import cnnbook
from cnnbook.datasets import registry

SANDBOX_HOME = "/home/student"
WRITABLE = {"home": SANDBOX_HOME, "tmp": "/tmp", "shm": "/dev/shm"}
SYSTEM_FOLDERS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
SYSTEM_FILES = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/fonts",
]
FIRST_UID = 1_990_000  # the unprivileged users of the job slots, when the grader is root
MAX_PROCESSES = 512  # processes and threads of one submission (a kernel with TensorFlow: ~100)
CGROUP_ROOT = Path("/sys/fs/cgroup")
MARKER = "CNNBOOK_GRADING_RUN"  # in every graded process's environment, to find strays
OWNER_FILE = ".cnnbook-grader"  # in each folder a grader makes: the grader (`owner`)
STALE_NAME = re.compile(r"cnnbook-(grade|check)-(\d+-\d+)-\w+")  # what `owned_folder` names


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one notebook may use while it is graded."""

    timeout: float = 300
    memory_gb: float = 4

    @property
    def memory_bytes(self) -> int:
        """The memory limit in bytes."""
        return int(self.memory_gb * 2**30)


def is_root() -> bool:
    """True when the grader runs as root (CI, containers)."""
    return os.geteuid() == 0


def slot_user(slot: int) -> int | None:
    """The unprivileged user and group id of a job slot when the grader is root, else None:
    unused by any other grading run on the machine (each is a process of its own)."""
    return FIRST_UID + (os.getpid() % 1_000_000) * 256 + slot % 256 if is_root() else None


def sandbox_available() -> bool:
    """True when bubblewrap is installed and can start a sandbox on this machine."""
    if shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory() as scratch:
        for name in WRITABLE:
            (Path(scratch) / name).mkdir()
        probe = subprocess.run(
            [*bwrap_prefix(Path(scratch), slot_user(0)), sys.executable, "-c", "pass"],
            capture_output=True,
            timeout=60,
        )
    return probe.returncode == 0


def bwrap_prefix(scratch: Path, user: int | None = None) -> list[str]:
    """The bubblewrap command line that runs a command with scratch's folders as its only
    writable places; as user (see `slot_user`) when the grader is root."""
    if user is None:  # an unprivileged user namespace of the grader's own user
        prefix = ["bwrap", "--unshare-all", "--cap-drop", "ALL"]
    else:  # set up as root, then run as the slot's user, with no capabilities
        prefix = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        prefix += ["--unshare-cgroup-try", "--cap-drop", "ALL"]
        prefix += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    prefix += ["--die-with-parent", "--new-session"]
    prefix += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            prefix += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            prefix += ["--ro-bind", folder, folder]
    for path in SYSTEM_FILES:
        prefix += ["--ro-bind-try", path, path]
    made = {"/", "/tmp", "/dev"}
    # The writable folders first: what is read from under /tmp is then bound over its /tmp.
    mounts = [(str(scratch / name), inside, "--bind") for name, inside in WRITABLE.items()]
    mounts += [(path, path, "--ro-bind-try") for path in [sys.base_prefix, sys.prefix]]
    mounts += [(path, path, "--ro-bind-try") for path in [package_folder(), *data_folders()]]
    for source, target, kind in mounts:
        for parent in reversed(Path(target).parents):  # reachable by the slot's user too
            if str(parent) not in made and not str(parent).startswith("/usr"):
                prefix += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        prefix += [kind, source, target]
    prefix += ["--remount-ro", "/", "--chdir", SANDBOX_HOME, "--"]
    if user is not None:
        prefix += ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
        prefix += ["--inh-caps=-all", "--"]
    return prefix


def package_folder() -> str:
    """The folder holding the cnnbook package (the sandbox sees the package and nothing else)."""
    return str(Path(cnnbook.__file__).parent)


def environment(home: Path, run: str) -> dict[str, str]:
    """The environment of a grading process: only what a notebook needs, none of the grader's."""
    environment = {
        "HOME": str(home),
        "USER": "student",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(Path(package_folder()).parent),  # the package, not what is beside it
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "OMP_NUM_THREADS": "1",  # the submissions graded in parallel share the cores
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
        MARKER: run,
    }
    folders = data_folders()
    if folders:
        environment["CNNBOOK_DATA_DIR"] = os.pathsep.join(folders)
    for name in ("CNNBOOK_MODE", "KERAS_BACKEND"):
        if name in os.environ:
            environment[name] = os.environ[name]
    return environment


def data_folders() -> list[str]:
    """The grader's data folders that exist: CNNBOOK_DATA_DIR's and its user cache.

    A graded notebook reads its data from these (read-only) and never downloads: the sandbox
    has no network, and its own user cache is an empty folder.
    """
    return [str(folder) for _, folder in registry.search_dirs() if folder.is_dir()]


def owner() -> str:
    """This grader as the folders, cgroups and processes it makes name it: its process id and
    start time, so that a later grader can tell whether it still runs (`remove_stale`)."""
    return f"{os.getpid()}-{_started(os.getpid())}"


def _started(pid: int) -> int | None:
    """A process's start time (clock ticks after boot), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return int(stat.rpartition(")")[2].split()[19])


def _alive(tag: str) -> bool:
    """True when the grader named by tag (see `owner`) still runs."""
    pid, _, started = tag.partition("-")
    return _started(int(pid)) == int(started)


def new_run() -> str:
    """A fresh name for one notebook's run, which its processes carry in their environment
    (MARKER) so that `stop` and `remove_stale` find them all."""
    return f"{owner()}-{secrets.token_hex(6)}"


@contextlib.contextmanager
def owned_folder(kind: str):
    """A fresh folder in the temporary folder, named and marked as this grader's (OWNER_FILE),
    removed when done; one left by a killed grader is removed by `remove_stale`."""
    folder = Path(tempfile.mkdtemp(prefix=f"cnnbook-{kind}-{owner()}-"))
    try:
        _mark(folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _mark(folder: Path) -> None:
    (folder / OWNER_FILE).write_text(owner())


@contextlib.contextmanager
def scratch_folder(limits: Limits, user: int | None):
    """A fresh scratch folder with home/, tmp/ and shm/, owned by user; a tmpfs of the memory
    limit's size when the grader is root, so that files count against that memory."""
    with owned_folder("grade") as folder:
        mounted = is_root() and _mount_tmpfs(folder, limits.memory_bytes)
        try:
            _mark(folder)  # inside the tmpfs too
            for name in WRITABLE:
                (folder / name).mkdir()
            if user is not None:
                for path in (folder, *(folder / name for name in WRITABLE)):
                    os.chown(path, user, user)
            yield folder
        finally:
            if mounted:
                subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _mount_tmpfs(folder: Path, size: int) -> bool:
    """Mount a tmpfs of size bytes on folder; True if it could be."""
    options = f"size={size},mode=0700"
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    return subprocess.run(command, capture_output=True).returncode == 0


class Cgroup:
    """One cgroup (v2, or v1's memory, pids and cpu hierarchies) for a submission, where the
    grader may create one: its memory (page cache and tmpfs included), its number of processes
    and threads, and one core of CPU time. `enabled` is False where none could be made."""

    V1 = {
        "memory": {"memory.limit_in_bytes": "{memory}", "memory.memsw.limit_in_bytes": "{memory}"},
        "pids": {"pids.max": "{processes}"},
        "cpu": {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "100000"},
    }
    V2 = {
        "memory.max": "{memory}",
        "memory.swap.max": "0",
        "pids.max": "{processes}",
        "cpu.max": "100000 100000",
    }

    def __init__(self, limits: Limits):
        self.folders, name = [], f"cnnbook-grade-{owner()}-{secrets.token_hex(6)}"
        values = {"memory": limits.memory_bytes, "processes": MAX_PROCESSES}
        if not is_root():
            return
        if (CGROUP_ROOT / "cgroup.controllers").is_file():
            with contextlib.suppress(OSError):
                (CGROUP_ROOT / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            self._make(CGROUP_ROOT / name, self.V2, values)
        else:
            for controller, settings in self.V1.items():
                if (CGROUP_ROOT / controller / "cgroup.procs").is_file():
                    self._make(CGROUP_ROOT / controller / name, settings, values)

    def _make(self, folder: Path, settings: dict, values: dict) -> None:
        try:
            folder.mkdir()
        except OSError:
            return
        self.folders.append(folder)
        for file, value in settings.items():
            with contextlib.suppress(OSError):
                (folder / file).write_text(value.format(**values))

    @property
    def enabled(self) -> bool:
        """True when the submission runs in a cgroup of its own."""
        return bool(self.folders)

    def add(self, pid: int) -> None:
        """Move a process (before it starts the submission) into the cgroup."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        """The processes in the cgroup now."""
        found = set()
        for folder in self.folders:
            with contextlib.suppress(OSError):
                found |= {int(line) for line in (folder / "cgroup.procs").read_text().split()}
        return found

    def remove(self) -> None:
        """Delete the cgroup (once its processes are gone)."""
        for folder in self.folders:
            _remove_cgroup(folder)


def _remove_cgroup(folder: Path) -> bool:
    """Delete a cgroup's folder, waiting up to 5 s for its processes to be gone; True if done."""
    for _ in range(50):
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


def start(command, *, cwd: Path, env: dict, log, cgroup: Cgroup):
    """Start command in cgroup: it waits on stdin until the cgroup holds it. (The sandbox's
    command line switches to the slot's user itself: `bwrap_prefix`.)"""
    process = subprocess.Popen(
        ["/bin/sh", "-c", 'read _ ; exec "$@"', "sh", *command],
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    try:
        cgroup.add(process.pid)
    finally:
        process.stdin.write(b"go\n")
        process.stdin.close()
    return process


def stop(process: subprocess.Popen, run: str, user: int | None, cgroup: Cgroup) -> None:
    """Kill a grading process and everything it started, detached or not: its descendants, its
    session, its cgroup, every process of its slot's user, and any process carrying its run's
    marker in its environment."""
    for _ in range(3):
        victims = set(cgroup.pids())
        with contextlib.suppress(psutil.NoSuchProcess):
            victims |= {child.pid for child in psutil.Process(process.pid).children(True)}
        for candidate in psutil.process_iter(["uids", "environ"]):
            info = candidate.info
            if user is not None and info["uids"] and info["uids"].real == user:
                victims.add(candidate.pid)
            elif (info.get("environ") or {}).get(MARKER) == run:
                victims.add(candidate.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in victims - {os.getpid()}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not victims:
            break
        time.sleep(0.05)
    process.wait()
    cgroup.remove()


def remove_stale() -> list[str]:
    """Remove what graders that were killed (SIGKILL, a crash) left behind; return what was
    removed: the processes of their runs, their tmpfs mounts, folders and cgroups. Only what a
    grader made is touched: a name of STALE_NAME's form (a run's marker, for a process) whose
    grader no longer runs (`owner`: same process id and start time), and for a folder, an
    OWNER_FILE in it, this user's own and not a link, naming that grader."""
    cgroups = _stale_cgroups()
    victims = _stale_processes(cgroups)
    for pid in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    removed = [f"process {pid}" for pid in sorted(victims)]
    mounts = _tmpfs_mounts()
    for folder, tag in _stale_folders():
        if str(folder) in mounts:
            unmount = subprocess.run(["umount", "-l", str(folder)], capture_output=True)
            if unmount.returncode != 0 or not _marked(folder, tag):
                continue
            removed.append(f"tmpfs {folder}")
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    removed += [f"cgroup {folder}" for folder in cgroups if _remove_cgroup(folder)]
    return removed


def _stale_cgroups() -> list[Path]:
    """The cgroups of graders that no longer run."""
    found = []
    for root in [CGROUP_ROOT, *(CGROUP_ROOT / controller for controller in Cgroup.V1)]:
        with contextlib.suppress(OSError):
            for folder in root.iterdir():
                match = STALE_NAME.fullmatch(folder.name)
                if match and match.group(1) == "grade" and not _alive(match.group(2)):
                    found.append(folder)
    return found


def _stale_processes(cgroups: list[Path]) -> set[int]:
    """The processes in those cgroups, and those whose run marker names a grader that no
    longer runs."""
    victims = set()
    for folder in cgroups:
        with contextlib.suppress(OSError, ValueError):
            victims |= {int(line) for line in (folder / "cgroup.procs").read_text().split()}
    for candidate in psutil.process_iter(["environ"]):
        run = (candidate.info.get("environ") or {}).get(MARKER, "")
        match = re.fullmatch(r"(\d+-\d+)-\w+", run)
        if match and not _alive(match.group(1)):
            victims.add(candidate.pid)
    return victims - {os.getpid()}


def _stale_folders() -> list[tuple[Path, str]]:
    """(folder, grader) of the folders in the temporary folder that graders that no longer
    run made (see `owned_folder`)."""
    found = []
    for folder in Path(tempfile.gettempdir()).iterdir():
        match = STALE_NAME.fullmatch(folder.name)
        if match and not _alive(match.group(2)) and _marked(folder, match.group(2)):
            found.append((folder, match.group(2)))
    return found


def _marked(folder: Path, tag: str) -> bool:
    """True when folder (not a link) holds an OWNER_FILE of this user's naming grader tag."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            marker = os.open(OWNER_FILE, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=descriptor)
        finally:
            os.close(descriptor)
    except OSError:
        return False
    with os.fdopen(marker, "rb") as stream:
        status = os.fstat(stream.fileno())
        ours = stat.S_ISREG(status.st_mode) and status.st_uid == os.geteuid()
        return ours and stream.read(100) == tag.encode()


def _tmpfs_mounts() -> set[str]:
    """The mount points of the tmpfs file systems this process sees."""
    points = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount, _, filesystem = line.partition(" - ")
        if filesystem.split()[:1] == ["tmpfs"]:
            point = mount.split()[4]  # a space and the like written \ooo, in octal
            points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), point))
    return points
