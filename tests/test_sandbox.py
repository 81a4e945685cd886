"""The sandbox's own guarantees, without a notebook: no root inside, /proc/sys read-only, one
core per submission, and no process outliving its run, sandboxed or not.
"""

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from cnnbook.course import sandbox

LIMITS = sandbox.Limits(timeout=30, memory_gb=1)


def run_inside(code, user, cgroup=None, sandboxed=True):
    """Run Python code in a fresh scratch folder's sandbox; return (process, output)."""
    cgroup = cgroup or sandbox.Cgroup(LIMITS)
    run = f"test-{os.getpid()}-{time.monotonic_ns()}"
    with sandbox.scratch_folder(LIMITS, user) as scratch:
        command = [sys.executable, "-c", code]
        if sandboxed:
            command = [*sandbox.bwrap_prefix(scratch, user), *command]
        home = Path(sandbox.SANDBOX_HOME) if sandboxed else scratch / "home"
        with open(scratch / "log", "w+b") as log:
            process = sandbox.start(
                command,
                cwd=scratch / "home",
                env=sandbox.environment(home, run),
                log=log,
                cgroup=cgroup,
            )
            try:
                process.wait(timeout=60)
            finally:
                sandbox.stop(process, run, user, cgroup)
            log.seek(0)
            return process, log.read().decode(), run


needs_sandbox = pytest.mark.skipif(
    not sandbox.sandbox_available(), reason="bubblewrap: sudo apt-get install bubblewrap"
)


@needs_sandbox
def test_nothing_in_the_sandbox_runs_as_root():
    code = (
        "import os\nprint(os.getuid(), os.geteuid())\n"
        "try:\n    open('/proc/sys/kernel/hostname', 'w')\n    print('wrote')\n"
        "except OSError:\n    print('read-only')\n"
    )
    process, output, _ = run_inside(code, sandbox.slot_user(0))
    uid, euid, proc_sys = output.split()
    assert (int(uid), int(euid)) != (0, 0) and int(uid) != 0, output
    assert proc_sys == "read-only"


@needs_sandbox
@pytest.mark.skipif(not sandbox.is_root(), reason="a cgroup of its own needs root")
def test_a_submission_gets_one_core_however_many_processes_it_starts():
    cgroup = sandbox.Cgroup(LIMITS)
    if not cgroup.enabled:
        pytest.skip("the kernel's cgroups cannot be written here")
    code = (
        "import multiprocessing, time, os\n"
        "def spin():\n    end = time.time() + 3\n    while time.time() < end: pass\n"
        "workers = [multiprocessing.Process(target=spin) for _ in range(4)]\n"
        "[w.start() for w in workers]; [w.join() for w in workers]\n"
        "print(sum(os.times()[2:4]))\n"
    )
    _, output, _ = run_inside(code, sandbox.slot_user(0), cgroup)
    assert float(output.split()[-1]) < 3 * 1.5  # four spinners, one core: about 3 s of CPU


def test_no_process_outlives_its_run_even_without_a_sandbox():
    code = (
        "import subprocess\n"
        "subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "subprocess.Popen(['sh', '-c', 'sleep 301 &'], start_new_session=True)\n"
        "import time; time.sleep(0.5)\n"
    )
    _, _, run = run_inside(code, None, sandboxed=False)
    time.sleep(0.2)
    survivors = []
    for process in psutil.process_iter(["environ"]):
        if (process.info.get("environ") or {}).get(sandbox.MARKER) == run:
            survivors.append(process.pid)
    assert survivors == []
    sleeping = [
        p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[-1:] == ["301"]
    ]
    assert sleeping == []


def test_the_probe_and_the_command_line_name_no_root_in_the_sandbox():
    user = 1_990_000 + 7
    prefix = sandbox.bwrap_prefix(Path("/nowhere"), user)
    assert prefix[prefix.index("--") + 1 :][:2] == ["setpriv", f"--reuid={user}"]
    assert ["--ro-bind", "/proc/sys", "/proc/sys"] == prefix[prefix.index("/proc/sys") - 1 :][:3]
