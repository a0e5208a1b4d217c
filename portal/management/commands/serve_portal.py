"""Serve the portal and its django-q2 cluster together; Ctrl-C stops both.

The web server and the cluster each run in a session (and so a process group)
of their own. The terminal's Ctrl-C then reaches this command only, not the
cluster's sentinel, workers, monitor and pusher at random moments of their
start or stop (q2's sentinel ignores SIGINT, and a cluster interrupted twice
used to leave workers behind). This command alone decides how they stop: a
graceful SIGTERM first, then SIGKILL to every process left in each group once
the grace period is over. A second Ctrl-C skips the grace period.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.management.commands.load_demo_data import DEMO_PASSWORD, DEMO_USERS

POLL_SECONDS = 0.2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Command(BaseCommand):
    help = "Run the development web server and the q2 cluster side by side."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--noreload",
            action="store_true",
            help="Do not restart the web server when the code changes.",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=5.0,
            help="Seconds the processes get to stop before they are killed.",
        )

    def handle(self, *args, port, host, noreload, grace, **options):
        # Installed before any child starts, so no signal falls between the
        # start of a child and the code that stops it. A shell that starts
        # this in the background ignores SIGINT; these handlers take it back.
        stop = _StopRequest()
        for signum in STOP_SIGNALS:
            signal.signal(signum, stop.note)
        web_command = ["runserver", f"{host}:{port}"]
        if noreload:
            web_command.append("--noreload")
        children = {}
        try:
            # stdin stays open for the web server so that breakpoint() in a
            # view still works; the cluster never reads it.
            children["web server"] = _start(web_command, stdin=None)
            children["task cluster"] = _start(["qcluster"], stdin=subprocess.DEVNULL)
            self._banner(host, port)
            ended = _wait_for_stop_or_exit(stop, children)
        finally:
            _stop_all(children, stop, grace)
        if ended:
            name, code = ended
            raise CommandError(f"The {name} exited with status {code}; stopped all.")

    def _banner(self, host, port):
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nSwitchboard is at {url}"))
        self.stdout.write(f"Demo logins (password “{DEMO_PASSWORD}”):")
        for username, first, last, group, zone in DEMO_USERS:
            self.stdout.write(f"  {username:<8} {group:<13} {first} {last}, {zone}")
        self.stdout.write("Task cluster started. Press Ctrl-C to stop both.\n")


class _StopRequest:
    """Count the stop signals received; handlers only record them."""

    def __init__(self):
        self.count = 0

    def note(self, signum, frame):
        self.count += 1


def _start(command, *, stdin):
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=settings.BASE_DIR,
        env=os.environ.copy(),
        stdin=stdin,
        start_new_session=True,
    )


def _wait_for_stop_or_exit(stop, children):
    """Wait for a stop signal (return None) or a child's exit (its name, code)."""
    while not stop.count:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                return name, code
        time.sleep(POLL_SECONDS)
    return None


def _stop_all(children, stop, grace):
    """Stop every process of every child's group: SIGTERM, then SIGKILL."""
    requests_before = stop.count
    web = children.get("web server")
    cluster = children.get("task cluster")
    # The whole web group: runserver's autoreloader and the server it runs.
    if web is not None:
        _signal_group(web.pid, signal.SIGTERM)
    # The cluster's leader only: it stops its sentinel, which lets the workers
    # finish the task in hand. Signalling the whole group would kill the
    # sentinel at once (q2 leaves SIGTERM at its default there).
    if cluster is not None and cluster.poll() is None:
        cluster.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and stop.count == requests_before:
        for child in children.values():
            child.poll()
        if not any(_group_alive(child.pid) for child in children.values()):
            break
        time.sleep(POLL_SECONDS)
    # Whatever is left, including workers whose leader already exited.
    for child in children.values():
        _signal_group(child.pid, signal.SIGKILL)
    for child in children.values():
        child.wait()


def _signal_group(pgid, signum):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
