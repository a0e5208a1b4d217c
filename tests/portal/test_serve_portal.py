"""`manage.py serve_portal` stops every process it started on Ctrl-C."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads processes from /proc"
)

POLL_SECONDS = 0.2
START_TIMEOUT = 90
STOP_TIMEOUT = 15
WORKERS = 2
# The leader, its sentinel, the workers, the monitor and the pusher.
CLUSTER_PROCESSES = 4 + WORKERS


def test_ctrl_c_stops_every_process_serve_portal_started(tmp_path):
    env = _environment(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        timeout=300,
    )
    port = _free_port()
    log = (tmp_path / "serve_portal.log").open("w+")
    portal = subprocess.Popen(
        [sys.executable, "manage.py", "serve_portal", "--port", str(port)],
        cwd=settings.BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = {}
    try:
        started = _wait_until_serving(portal, port, log)
        sessions = {stat["session"] for stat in started.values()}

        os.killpg(portal.pid, signal.SIGINT)

        left = _wait_until_gone(portal, started, sessions)
        assert not left, f"still running after {STOP_TIMEOUT}s: {left}"
        assert portal.returncode == 0, _read(log)
    finally:
        _kill_leftovers(portal, started)
        log.close()


def _environment(tmp_path):
    env = os.environ.copy()
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DEBUG="true",
        SECRET_KEY="serve-portal-test-key",
        Q_WORKERS=str(WORKERS),
        REDIS_URL="",
        PYTHONUNBUFFERED="1",
    )
    return env


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(portal, port, log):
    """Return the live descendants once the site answers and the cluster is up."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert portal.poll() is None, _read(log)
        descendants = _descendants(portal.pid)
        cluster = [s for s in descendants.values() if "qcluster" in s["cmdline"]]
        if len(cluster) >= CLUSTER_PROCESSES and _answers(port):
            return {portal.pid: _stat(portal.pid), **descendants}
        time.sleep(POLL_SECONDS)
    pytest.fail(f"serve_portal did not start in {START_TIMEOUT}s:\n{_read(log)}")


def _answers(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_gone(portal, started, sessions):
    """Return what is still running (not a zombie) when time is up, or {}."""
    deadline = time.monotonic() + STOP_TIMEOUT
    while True:
        portal.poll()
        left = {
            pid: stat["cmdline"]
            for pid, stat in _all_processes().items()
            if stat["state"] != "Z"
            and (_same_process(pid, stat, started) or stat["session"] in sessions)
        }
        if (not left and portal.returncode is not None) or (
            time.monotonic() > deadline
        ):
            return left
        time.sleep(POLL_SECONDS)


def _same_process(pid, stat, started):
    # A pid counts only with the start time it had: pids are reused.
    return pid in started and started[pid]["start"] == stat["start"]


def _kill_leftovers(portal, started):
    for pid, stat in _all_processes().items():
        if _same_process(pid, stat, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if portal.poll() is None:
        portal.kill()
        portal.wait()


def _descendants(root):
    processes = _all_processes()
    children = {}
    for pid, stat in processes.items():
        children.setdefault(stat["ppid"], []).append(pid)
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = processes[child]
            todo.append(child)
    return found


def _all_processes():
    processes = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat:
                processes[int(entry.name)] = stat
    return processes


def _stat(pid):
    """Return state, parent, session, start time and command line, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces.
    fields = raw.rsplit(")", 1)[1].split()
    return {
        "state": fields[0],
        "ppid": int(fields[1]),
        "session": int(fields[3]),
        "start": int(fields[19]),
        "cmdline": cmdline.replace(b"\0", b" ").decode(errors="replace").strip(),
    }


def _read(log):
    log.flush()
    log.seek(0)
    return log.read()
