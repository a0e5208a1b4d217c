"""Message benchmarks: rendering speed, and delivery through the q2 cluster.

Called by bench/run.py after Django is set up on the benchmark database.
"""

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RENDERS = int(os.environ.get("BENCH_RENDERS", "5000"))
DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "1000"))
DELIVERY_TIMEOUT_SECONDS = 300


def render_rate() -> None:
    from comms.catalogue import incident_context
    from comms.models import MessageTemplate
    from comms.rendering import render
    from incidents.models import Incident

    incident = Incident.objects.select_related(
        "customer", "category", "signal", "owner"
    ).first()
    context = incident_context(incident, reader_zone="Europe/Berlin")
    versions = [
        t.current_version
        for t in MessageTemplate.objects.select_related("current_version")
    ]
    for version in versions:  # compile once, as a running worker would have
        render(version.subject, version.body, context)
    started = time.perf_counter()
    for n in range(RENDERS):
        version = versions[n % len(versions)]
        render(version.subject, version.body, context)
    elapsed = time.perf_counter() - started
    print(
        f"Rendering: {RENDERS:,} messages from {len(versions)} templates in "
        f"{elapsed:.2f} s = {RENDERS / elapsed:,.0f} messages/s (one process)"
    )


class _Counter:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        return "250 OK"


def delivery_rate() -> None:
    from aiosmtpd.controller import Controller
    from django.db import transaction

    from comms import services
    from comms.models import Message
    from incidents import services as incident_services
    from incidents.models import Incident

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("django-q").setLevel(logging.WARNING)
    counter = _Counter()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    # A systemic incident may have no customer; the delivery run needs one.
    template = (
        Incident.objects.filter(customer__isnull=False)
        .select_related("category", "customer")
        .first()
    )
    incident = incident_services.open_incident(
        actor=None,
        title="Benchmark: delivery run",
        priority="P4",
        category=template.category,
        customer=template.customer,
        what_happened="Messages queued by make bench.",
    )
    cluster = None
    try:
        with transaction.atomic():
            for n in range(DELIVERIES):
                services.send_message(
                    incident=incident,
                    actor=None,
                    audience="internal",
                    channel="email",
                    stage="creation",
                    situation="",
                    follow_up_number=None,
                    party=None,
                    recipients=["agent@switchboard.example"],  # a demo staff address
                    subject=f"[bench] delivery {n}",
                    body="Benchmark message.",
                    send_after=None,
                    template_version=None,
                )
        env = {**os.environ, "EMAIL_URL": f"smtp://127.0.0.1:{port}", "Q_WORKERS": "2"}
        started = time.perf_counter()
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sent = 0
        while time.perf_counter() - started < DELIVERY_TIMEOUT_SECONDS:
            sent = Message.objects.filter(
                incident=incident, subject__startswith="[bench]", status="sent"
            ).count()
            if sent >= DELIVERIES:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        print(
            f"Delivery: {sent:,} of {DELIVERIES:,} queued e-mails sent through the "
            f"q2 cluster (2 workers, ORM broker) to a local SMTP server in "
            f"{elapsed:.1f} s = {sent / elapsed:,.0f} messages/s; the server "
            f"received {counter.count:,}"
        )
    finally:
        if cluster is not None:
            cluster.terminate()
            try:
                cluster.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cluster.kill()
        controller.stop()
