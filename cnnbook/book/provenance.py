"""Provenance of a result: the machine it ran on (processor, cores, memory, system, how busy
it was), the versions of the libraries, and the cnnbook commit.

`versions` (Keras and its backend) is part of the model cache's key; `report_versions` adds
NumPy and the commit for reports; `installed` reads versions without importing anything.
"""

import contextlib
import importlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository, when cnnbook runs from one


def describe():
    """The processor, usable cores, memory, system, Python and current load of this machine."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "memory_bytes": memory,
        "system": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
    }


def load_average():
    """How many processes wanted a core, averaged over the last minute (None if unknown)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def versions():
    """The versions of Keras and of the backend it runs on (part of the model cache's key)."""
    import keras

    backend = keras.backend.backend()
    module = importlib.import_module(backend)
    return {"keras": keras.__version__, "backend": backend, backend: module.__version__}


def report_versions():
    """`versions`, NumPy and the cnnbook commit (with '+changes' if not committed)."""
    import numpy

    found = {**versions(), "numpy": numpy.__version__}
    found_commit = commit()
    if found_commit is not None:
        found["cnnbook"] = found_commit
    return found


def installed(packages):
    """The installed version of each of packages that is installed, read without importing."""
    found = {}
    for package in packages:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found


def commit():
    """The cnnbook commit, with '+changes' if the tree differs from it outside data/ (where
    the results report is written, run by run); None outside git."""
    if not (ROOT / ".git").exists():  # an installed copy: no commit to name
        return None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        head, changes = (
            subprocess.run(
                ["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
            for arguments in (
                ("rev-parse", "--short", "HEAD"),
                ("status", "--porcelain", "--", ".", ":(exclude)data"),
            )
        )
        return head + ("+changes" if changes else "")
    return None


def machine_line(found, library_versions):
    """One line on where a result was measured: processor, cores, memory, system, versions."""
    parts = [f"{found['cpu']}, {found['cores']} cores"]
    if found.get("memory_bytes"):
        parts.append(f"{found['memory_bytes'] / 2**30:.0f} GiB memory")
    parts.append(f"{found['system']}, Python {found['python']}")
    libraries = {name: v for name, v in library_versions.items() if name != "backend"}
    parts.append(", ".join(f"{name} {version}" for name, version in libraries.items()))
    return "; ".join(parts)
