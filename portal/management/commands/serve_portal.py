"""Serve the portal and its django-q2 cluster together; Ctrl-C stops both."""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.management.commands.load_demo_data import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Run the development web server and the q2 cluster side by side."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port, host, **options):
        # A shell that starts this in the background ignores SIGINT; take it
        # back, and treat SIGTERM the same, so both processes always stop.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=settings.BASE_DIR,
            env=os.environ.copy(),
        )
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"\nSwitchboard is at {url}"))
        self.stdout.write(f"Demo logins (password “{DEMO_PASSWORD}”):")
        for username, first, last, group, zone in DEMO_USERS:
            self.stdout.write(f"  {username:<8} {group:<13} {first} {last}, {zone}")
        self.stdout.write("Task cluster started. Press Ctrl-C to stop both.\n")
        try:
            call_command(
                "runserver", f"{host}:{port}", use_reloader=False, use_threading=True
            )
        except KeyboardInterrupt:
            pass
        finally:
            if cluster.poll() is None:
                cluster.send_signal(signal.SIGTERM)
                try:
                    cluster.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    cluster.kill()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
