"""The machine a measurement ran on: processor, cores, memory, system, and how busy it was."""

import contextlib
import os
import platform
from pathlib import Path


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
