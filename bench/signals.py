"""Signal intake: monitoring signals accepted per second through the real API.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchboard_bench_signals \
        DEBUG=false SECRET_KEY=x .venv/bin/python bench/signals.py

Creates and migrates the database if needed, adds BENCH_SIGNAL_CUSTOMERS
customers and a monitoring integration whose rate limit is out of reach (a
new token each run), then serves the portal with gunicorn --workers 2 and
the production settings (bench/served.py) on 127.0.0.1 and POSTs signals to
/api/signals/ from BENCH_SIGNAL_CONNECTIONS threads, each on its own
http.client connection, until BENCH_SIGNAL_SECONDS have passed or
BENCH_SIGNAL_MAX signals have been sent. One signal in BENCH_SIGNAL_NEW_EVERY
carries a new dedup key (it opens an incident); the others repeat a key
already accepted (they join its incident). Only 202 answers count; any
other answer stops the benchmark with the server log. Prints signals
accepted per second, p50 and p99 latency, and our target (200/s with 2
workers).

The API queues; the cluster applies. So the benchmark then applies the
backlog in this process, one receipt after another as one cluster worker
would, and prints signals applied per second: how long the cluster needs
to catch up after a burst. It checks that every new key opened exactly one
incident and every receipt was applied.
"""

import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from loops import QueryCounter, set_up_database  # noqa: E402
from served import HOST, BenchError, Server, _percentile  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SIGNAL_SECONDS", "20"))
MAX_SIGNALS = int(os.environ.get("BENCH_SIGNAL_MAX", "6000"))
CONNECTIONS = int(os.environ.get("BENCH_SIGNAL_CONNECTIONS", "8"))
NEW_EVERY = int(os.environ.get("BENCH_SIGNAL_NEW_EVERY", "4"))
CUSTOMERS = int(os.environ.get("BENCH_SIGNAL_CUSTOMERS", "200"))
TARGET_PER_SECOND = 200
SIGNAL_CODE = "SIG-001"  # shipped by incidents' migrations, with no category
CATEGORY = "esim"  # so each signal names one (a shipped category)
INTEGRATION = "Bench monitoring"
PATH = "/api/signals/"


def prepare() -> str:
    """Add the customers and the integration; return the integration's token."""
    from comms.models import MonitoringIntegration
    from comms.services import monitoring
    from incidents.models import Category, Customer, Signal

    if not Signal.objects.filter(code=SIGNAL_CODE, is_active=True).exists():
        raise BenchError(f"{SIGNAL_CODE} is not an active signal of the catalogue")
    if not Category.objects.filter(slug=CATEGORY, is_active=True).exists():
        raise BenchError(f"no active category {CATEGORY!r}")
    have = Customer.objects.filter(account_id__startswith="BSIG-").count()
    Customer.objects.bulk_create(
        Customer(
            name=f"Bench signal customer {n}",
            email=f"bench-signal{n}@example.com",
            account_id=f"BSIG-{n:06d}",
        )
        for n in range(have, CUSTOMERS)
    )
    integration = MonitoringIntegration.objects.filter(name=INTEGRATION).first()
    if integration is None:
        integration = MonitoringIntegration(name=INTEGRATION)
    # 429s must not shape the figure: a limit no run reaches, a fresh window.
    integration.rate_limit_per_minute = 10_000_000
    integration.is_active = True
    integration.window_started_at = None
    integration.window_count = 0
    if integration.pk:
        integration.save()
    return monitoring.issue_integration_token(integration=integration)


def drive(port: int, token: str, run: str) -> dict:
    """POST signals from CONNECTIONS threads, bounded in time and count."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        # The production settings redirect plain HTTP; the proxy says HTTPS.
        "X-Forwarded-Proto": "https",
    }
    deadline = time.monotonic() + SECONDS
    lock = threading.Lock()
    sent = 0
    answered_keys: list[str] = []  # keys whose opening signal was answered
    latencies: list[float] = []
    outcome = {"new": 0, "repeats": 0}
    failures: list[str] = []

    def next_signal(rng: random.Random) -> tuple[str, str] | None:
        nonlocal sent
        with lock:
            if sent >= MAX_SIGNALS or failures or time.monotonic() >= deadline:
                return None
            n = sent
            sent += 1
            if n % NEW_EVERY == 0 or not answered_keys:
                return f"bench-{run}-{n}", str(n)
            return rng.choice(answered_keys), str(n)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        # gunicorn's sync workers close after each answer; http.client then
        # reconnects on the next request by itself.
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            while (item := next_signal(rng)) is not None:
                key, n = item
                customer = f"BSIG-{zlib.crc32(key.encode()) % CUSTOMERS:06d}"
                body = json.dumps(
                    {
                        "signal": SIGNAL_CODE,
                        "dedup_key": key,
                        "description": f"Bench signal {n} on {key}.",
                        "customers": [customer],
                        "category": CATEGORY,
                    }
                )
                started = time.perf_counter()
                try:
                    conn.request("POST", PATH, body=body, headers=headers)
                    response = conn.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        failures.append(f"signal {n}: {type(exc).__name__}: {exc}")
                    return
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 202:
                    with lock:
                        failures.append(
                            f"signal {n} answered {response.status}: "
                            f"{answer[:500].decode('utf-8', 'replace')}"
                        )
                    return
                new = key.endswith(f"-{n}")
                with lock:
                    latencies.append(elapsed)
                    outcome["new" if new else "repeats"] += 1
                    if new:
                        answered_keys.append(key)
        finally:
            conn.close()

    started = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(seed,), daemon=True)
        for seed in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
    elapsed = time.monotonic() - started
    if any(thread.is_alive() for thread in threads):
        raise BenchError("a load thread did not stop within a minute of the end")
    if failures:
        raise BenchError(f"under load: {failures[0]}")
    if not latencies:
        raise BenchError("no signal was accepted")
    return {
        "accepted": len(latencies),
        "seconds": elapsed,
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": _percentile(latencies, 0.99),
        **outcome,
    }


def apply_backlog(run: str) -> dict:
    """Apply the run's queued signals as one cluster worker would; time it."""
    from django.db import connection
    from django_q.models import OrmQ

    from comms.models import SignalReceipt
    from comms.services import monitoring

    waiting = list(
        SignalReceipt.objects.filter(
            dedup_key__startswith=f"bench-{run}-",
            status=SignalReceipt.Status.QUEUED,
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)
    )
    counter = QueryCounter()
    started = time.perf_counter()
    with counter.counting(connection):
        for receipt_id in waiting:
            monitoring.process_signal(receipt_id=receipt_id)
    elapsed = time.perf_counter() - started
    # The tasks the API queued for a cluster that this benchmark never ran.
    OrmQ.objects.all().delete()
    return {
        "applied": len(waiting),
        "seconds": elapsed,
        "rate": len(waiting) / elapsed if elapsed else 0.0,
        "queries": counter.queries / len(waiting) if waiting else 0.0,
    }


def check_stored(run: str, result: dict) -> None:
    """Every accepted signal was applied; every new key opened one incident."""
    from comms.models import SignalReceipt

    receipts = SignalReceipt.objects.filter(dedup_key__startswith=f"bench-{run}-")
    stored = receipts.count()
    applied = receipts.filter(status=SignalReceipt.Status.PROCESSED).count()
    opened = receipts.filter(opened_incident=True).count()
    if (stored, applied, opened) != (result["accepted"], stored, result["new"]):
        raise BenchError(
            f"{result['accepted']} accepted ({result['new']} new keys) but "
            f"{stored} receipts stored, {applied} applied, {opened} opened"
        )


def main() -> None:
    # Queued tasks go to the bench database's own queue, never a shared Redis
    # (the served portal copies this environment).
    os.environ["REDIS_URL"] = ""
    url = set_up_database()
    from django.db import connection

    run = time.strftime("%Y%m%d%H%M%S")  # fresh dedup keys every run
    try:
        token = prepare()
        connection.close()
        print(
            f"\nSignals: POST {PATH} through gunicorn --workers 2, DEBUG off, "
            f"{CONNECTIONS} connections, up to {SECONDS:g} s or {MAX_SIGNALS:,} "
            f"signals, 1 in {NEW_EVERY} with a new dedup key"
        )
        with Server(url) as server:
            try:
                result = drive(server.port, token, run)
                server.check_alive()
            except BenchError as exc:
                raise BenchError(
                    f"{exc}\n--- gunicorn log ---\n{server.log_tail()}"
                ) from None
        print(
            f"Signals: {result['accepted']:,} accepted in {result['seconds']:.1f} s "
            f"= {result['rate']:,.1f} signals/s (target: {TARGET_PER_SECOND}/s), "
            f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms; "
            f"{result['new']:,} with a new key, {result['repeats']:,} repeats"
        )
        applied = apply_backlog(run)
        check_stored(run, result)
    except BenchError as exc:
        sys.exit(f"Signal benchmark failed: {exc}")
    print(
        f"Signals: the backlog applied by one worker in {applied['seconds']:.1f} s "
        f"= {applied['rate']:,.1f} signals/s, {applied['queries']:.1f} queries each"
    )


if __name__ == "__main__":
    main()
