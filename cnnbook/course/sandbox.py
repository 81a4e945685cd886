"""The sandbox each submission is graded in: bubblewrap's command line, the environment, the
data folders it may read, and stopping its whole process tree.

Where Debian's bubblewrap (``bwrap``) is installed, a notebook runs with no network, its own
process and IPC namespaces, no capabilities, and read-only access to the system, the Python
environment, the cnnbook package and the data (`data_folders`) only; its one writable place
is its scratch folder, seen as ``SANDBOX_HOME``.
"""

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

import cnnbook
from cnnbook.datasets import registry

SANDBOX_HOME = "/home/student"
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


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one notebook may use while it is graded."""

    timeout: float = 300
    memory_gb: float = 4


def sandbox_available() -> bool:
    """True when bubblewrap is installed and can start a sandbox on this machine."""
    if shutil.which("bwrap") is None:
        return False
    probe = subprocess.run(
        [*bwrap_prefix(Path(tempfile.gettempdir())), "true"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


def bwrap_prefix(scratch: Path) -> list[str]:
    """The bubblewrap command line that runs a command with scratch as its only writable folder."""
    prefix = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL"]
    # The empty /tmp first: a Python environment or package under /tmp is bound over it below.
    prefix += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            prefix += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            prefix += ["--ro-bind", folder, folder]
    for path in SYSTEM_FILES:
        prefix += ["--ro-bind-try", path, path]
    package = str(Path(cnnbook.__file__).parent)
    readable = [sys.base_prefix, sys.prefix, package]  # the registry is inside the package
    for path in readable + data_folders():
        prefix += ["--ro-bind-try", path, path]
    prefix += ["--bind", str(scratch), SANDBOX_HOME, "--remount-ro", "/"]
    return prefix + ["--chdir", SANDBOX_HOME, "--"]


def environment(home: Path) -> dict[str, str]:
    """The environment of a grading process: only what a notebook needs, none of the grader's."""
    environment = {
        "HOME": str(home),
        "USER": "student",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "OMP_NUM_THREADS": "1",  # the submissions graded in parallel share the cores
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
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


def stop(process: subprocess.Popen) -> None:
    """Kill a grading process and all it started (otter starts the kernel in a new session)."""
    try:
        tree = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    for victim in tree:
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
