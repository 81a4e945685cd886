"""The sandbox's own guarantees, without a notebook: no root inside, /proc/sys read-only, one
core per submission, and no process outliving its run, sandboxed or not.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from cnnbook.course import sandbox

LIMITS = sandbox.Limits(timeout=30, memory_gb=1)
CGROUP_ROOT = sandbox.CGROUP_ROOT


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


def dead_grader():
    """A grader's tag (`sandbox.owner`) naming no running process: this process's id with
    another start time, as after the grader died and its id was given to another process."""
    pid, _, started = sandbox.owner().partition("-")
    return f"{pid}-{int(started) + 1}"


def leftover(folder, tag, marker=None, kind="grade"):
    """A folder named as grader tag's, holding a marker file that says marker (if given)."""
    path = folder / f"cnnbook-{kind}-{tag}-x{len(list(folder.iterdir()))}"
    path.mkdir()
    (path / "answers.json").write_text("{}")
    if marker is not None:
        (path / sandbox.OWNER_FILE).write_text(marker)
    return path


def test_only_what_a_killed_grader_made_is_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead, alive = dead_grader(), sandbox.owner()
    removed = [leftover(tmp_path, dead, dead), leftover(tmp_path, dead, dead, "check")]
    kept = [
        leftover(tmp_path, dead),  # no marker
        leftover(tmp_path, dead, alive),  # the marker names another grader
        leftover(tmp_path, alive, alive),  # its grader still runs
        tmp_path / f"cnnbook-gradex-{dead}-x",  # not a name a grader gives
    ]
    kept[-1].mkdir()
    (kept[-1] / sandbox.OWNER_FILE).write_text(dead)
    linked = tmp_path / "elsewhere"
    linked.mkdir()
    (linked / sandbox.OWNER_FILE).write_text(dead)
    (tmp_path / f"cnnbook-grade-{dead}-link").symlink_to(linked)  # a link is never followed
    kept += [linked, tmp_path / f"cnnbook-grade-{dead}-link"]
    fake = leftover(tmp_path, dead)
    (fake / sandbox.OWNER_FILE).symlink_to(removed[0] / sandbox.OWNER_FILE)  # a linked marker
    kept.append(fake)
    if sandbox.is_root():  # a marker that another user wrote
        kept.append(leftover(tmp_path, dead, dead))
        os.chown(kept[-1] / sandbox.OWNER_FILE, 12345, 12345)
    environment = {**os.environ, sandbox.MARKER: f"{dead}-abc"}
    stray = subprocess.Popen(["sleep", "60"], env=environment)
    living = subprocess.Popen(["sleep", "60"], env={**environment, sandbox.MARKER: alive + "-a"})
    try:
        report = sandbox.remove_stale()
        assert stray.wait(timeout=10) == -signal.SIGKILL
        assert living.poll() is None
    finally:
        living.kill(), stray.kill()
    assert [path for path in removed if path.exists()] == []
    assert [path for path in kept if not os.path.lexists(path)] == []
    assert {str(path) for path in removed} | {f"process {stray.pid}"} <= set(report)


@pytest.mark.skipif(not sandbox.is_root(), reason="mounts and cgroups need root")
def test_a_killed_graders_mounts_and_cgroups_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead, alive = dead_grader(), sandbox.owner()
    mounted = leftover(tmp_path, dead, dead)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mounted)], check=True)
    (mounted / sandbox.OWNER_FILE).write_text(dead)
    roots = [CGROUP_ROOT, *(CGROUP_ROOT / name for name in sandbox.Cgroup.V1)]
    stale = [
        root / f"cnnbook-grade-{dead}-t" for root in roots if (root / "cgroup.procs").is_file()
    ]
    try:
        for folder in stale:
            folder.mkdir()
    except OSError:
        pytest.skip("the kernel's cgroups cannot be written here")
    living = sandbox.Cgroup(LIMITS)
    sleeper = subprocess.Popen(["sleep", "60"])
    for folder in stale:
        (folder / "cgroup.procs").write_text(str(sleeper.pid))
    try:
        report = sandbox.remove_stale()
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
        assert [folder for folder in living.folders if not folder.is_dir()] == []
    finally:
        sleeper.kill()
        living.remove()
    assert not mounted.exists() and f"tmpfs {mounted}" in report
    assert [folder for folder in stale if folder.exists()] == []
    assert alive in living.folders[0].name
