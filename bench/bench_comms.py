"""Message benchmarks: rendering speed, and delivery through the q2 cluster.

Called by bench/run.py after Django is set up on the benchmark database.
"""

import contextlib
import datetime as dt
import logging
import os
import signal
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


def _mail_server(handler):
    """Start a local SMTP server on a free loopback port; return it and the port."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def delivery_rate() -> None:
    from django.db import transaction

    from comms import services
    from comms.models import Message
    from incidents import services as incident_services
    from incidents.models import Incident

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("django-q").setLevel(logging.WARNING)
    counter = _Counter()
    controller, port = _mail_server(counter)
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


NOTICE_CUSTOMERS = int(os.environ.get("BENCH_NOTICE_CUSTOMERS", "10000"))
NOTICE_TARGET_SECONDS = 60


class _Recipients:
    """A mail server that counts what each address received of one incident's
    messages (``reference``)."""

    def __init__(self):
        self.received: dict[str, int] = {}
        self.reference = ""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        mark = f"X-Switchboard-Incident: {self.reference}\r\n".encode()
        if self.reference and mark in envelope.original_content:
            for address in envelope.rcpt_tos:
                self.received[address] = self.received.get(address, 0) + 1
        return "250 OK"


@contextlib.contextmanager
def _sweep_paused():
    """Hold the per-minute sweep (and drop tasks an earlier run left queued):
    on the bench's generated data it has thousands of follow-ups to send, and
    this bench measures the notice alone."""
    from django.utils import timezone
    from django_q.models import OrmQ, Schedule

    OrmQ.objects.all().delete()
    sweep = Schedule.objects.filter(name="Switchboard sweep")
    next_run = list(sweep.values_list("next_run", flat=True))
    sweep.update(next_run=timezone.now() + dt.timedelta(days=1))
    try:
        yield
    finally:
        sweep.update(next_run=next_run[0] if next_run else timezone.now())


def _systemic_notice(customers: int):
    """A customer update on a systemic incident reaching ``customers``,
    written by the agent and approved once by the manager."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from comms import selectors, services
    from incidents import services as incident_services
    from incidents.models import AffectedCustomer, Category, Customer

    users = get_user_model().objects.in_bulk(
        ["agent", "manager"], field_name="username"
    )
    incident = incident_services.open_incident(
        actor=users["agent"],
        title="Benchmark: systemic outage notice",
        priority="P2",
        category=Category.objects.first(),
        customer=None,
        is_systemic=True,
        what_happened="A notice to every affected customer, sent by make bench.",
        customer_summary="Trip sync is delayed for many fleets.",
    )
    now = timezone.now()
    AffectedCustomer.objects.bulk_create(
        AffectedCustomer(incident=incident, customer_id=pk, added_at=now)
        for pk in Customer.objects.exclude(email="")
        .order_by("pk")
        .values_list("pk", flat=True)[:customers]
    )
    message = services.send_message(
        incident=incident,
        actor=users["agent"],
        audience="customer",
        channel="email",
        stage="follow_up",
        situation="",
        follow_up_number=None,
        party=None,
        recipients=selectors.customer_addresses(incident),
        subject="[bench] Trip sync is delayed",
        body="We are working on it and will write again within the hour.",
        send_after=None,
        template_version=None,
    )
    return message, users["manager"]


def _cluster(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("BENCH_CLUSTER_LOG", os.devnull), "a"),  # noqa: SIM115
        start_new_session=True,  # its workers die with it
    )


def _stop(cluster: subprocess.Popen, sig=signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(cluster.pid, sig)
    try:
        cluster.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(timeout=30)


def _wait(condition, timeout: float) -> bool:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if condition():
            return True
        time.sleep(0.2)
    return False


def systemic_notice() -> None:
    """One approved customer update to NOTICE_CUSTOMERS affected customers,
    delivered by the cluster as one e-mail each: timed, then again with the
    cluster killed halfway, counting what each address received."""
    from django.conf import settings
    from django.utils import timezone

    from comms import services
    from comms.models import Message
    from comms.services import delivery

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    recipients = _Recipients()
    controller, port = _mail_server(recipients)
    env = {**os.environ, "EMAIL_URL": f"smtp://127.0.0.1:{port}", "Q_WORKERS": "2"}
    held = contextlib.ExitStack()
    held.callback(controller.stop)
    held.enter_context(_sweep_paused())
    with held:
        # 1. Approved once, delivered in full.
        message, manager = _systemic_notice(NOTICE_CUSTOMERS)
        recipients.reference = message.incident.reference
        cluster = _cluster(env)
        try:
            time.sleep(2)  # the cluster starts; the clock starts at approval
            started = time.perf_counter()
            services.approve_message(
                message=message, actor=manager, subject=None, body=None
            )
            sent = _wait(
                lambda: Message.objects.filter(pk=message.pk, status="sent").exists(),
                NOTICE_TARGET_SECONDS * 5,
            )
            elapsed = time.perf_counter() - started
        finally:
            _stop(cluster)
        wanted = set(Message.objects.get(pk=message.pk).recipients)
        got = {a: n for a, n in recipients.received.items() if a in wanted}
        twice = sum(1 for n in got.values() if n > 1)
        met = (
            sent
            and elapsed < NOTICE_TARGET_SECONDS
            and not twice
            and len(got) == len(wanted)
        )
        print(
            f"Systemic notice: {len(got):,} of {len(wanted):,} customers received "
            f"it {elapsed:.1f} s after one approval, {twice} twice (target: all, "
            f"in under {NOTICE_TARGET_SECONDS} s, none twice: "
            f"{'met' if met else 'MISSED'})"
        )

        # 2. The cluster killed halfway; the stale-claim sweep settles it.
        recipients.received.clear()
        message, manager = _systemic_notice(NOTICE_CUSTOMERS)
        recipients.reference = message.incident.reference
        cluster = _cluster(env)
        services.approve_message(
            message=message, actor=manager, subject=None, body=None
        )
        half = len(message.recipients) // 2
        _wait(lambda: len(Message.objects.get(pk=message.pk).delivered_to) >= half, 300)
        _stop(cluster, signal.SIGKILL)
        killed_at = len(Message.objects.get(pk=message.pk).delivered_to)
        # As if the sweep ran once the claim went stale (minutes later).
        Message.objects.filter(pk=message.pk).update(
            claimed_at=timezone.now()
            - dt.timedelta(seconds=settings.COMMS_STALE_CLAIM_SECONDS + 1)
        )
        delivery.due_work(timezone.now())
        cluster = _cluster(env)
        try:
            settled = _wait(
                lambda: Message.objects.filter(
                    pk=message.pk, status__in=["sent", "failed"]
                ).exists(),
                300,
            )
        finally:
            _stop(cluster)
        message = Message.objects.get(pk=message.pk)
        wanted = set(message.recipients)
        got = {a: n for a, n in recipients.received.items() if a in wanted}
        twice = sum(1 for n in got.values() if n > 1)
        print(
            f"Systemic notice, cluster killed after {killed_at:,} e-mails: "
            f"{message.status if settled else 'NOT SETTLED'}; {len(got):,} of "
            f"{len(wanted):,} received it, {twice} twice, {len(message.in_doubt_to)} "
            f"in doubt and not resent (target: none twice: "
            f"{'met' if not twice else 'MISSED'})"
        )
