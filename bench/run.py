"""Page-speed benchmark on PostgreSQL with 100,000 incidents and customers.

Run with `make bench`. Fills the database named by DATABASE_URL once (timing
the demo-data loader), then requests the incident list (plain, filtered,
searched), the incident pages, the message pages, My work and the queues
through Django's test client, in process, and prints median and p95 latency
and the query count of each; then serves the portal with gunicorn and prints
the pages/s, p50, p95 and p99 of the main pages under load (bench/served.py).
Each page figure issue 26 sets a target for is printed against it, "met" or
"MISSED".
"""

import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote_plus, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
# The portal's settings plus the floor page's URL (bench/bench_settings.py),
# so the floor is measured in process beside the pages; the processes the
# bench starts (the q2 cluster) inherit both and find bench/ on PYTHONPATH.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT / "bench"), os.environ.get("PYTHONPATH")])
)

TARGET_ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "60"))
# Issue 26's targets. In process: each page's median, with one query count
# across all its requests.
PAGE_MEDIAN_TARGET_MS = 12
# Served: the incident page's pages/s as a fraction of the floor page's
# (bench/floor.py), and its p95 under CONNECTIONS concurrent clients.
SERVED_RATIO_TARGET = 0.5
SERVED_P95_TARGET_MS = 100
# Issue 27: the public status page holds 200 requests/s on 2 workers.
PUBLIC_PAGE_TARGET_RATE = 200
# A login-required page that renders three lines (bench/floor.py).
FLOOR_PAGE = "floor page"
# The pages with a median target: label, then the name measured under.
TARGET_PAGES = [
    ("incident page", "detail, typical history"),
    ("list", "list, plain"),
    ("My work (agent)", "my work"),
    ("My work (manager)", "my work, manager"),
    ("compose", "compose"),
    ("messages tab", "messages tab"),
    ("tier queue", "tier queue"),  # measured by bench_escalations
    ("credit queue", "credit queue"),
    ("message approvals queue", "message approvals"),
    ("escalation approvals queue", "escalation approvals"),  # bench_escalations
]


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_page_targets(results: dict[str, dict], incidents: int) -> None:
    """One line per page with a target: its median against the target, and
    as a multiple of the floor page's median in the same run (steadier than
    milliseconds on a shared machine)."""
    floor = results[FLOOR_PAGE]["median"]
    print(
        f"\nPage targets at {incidents:,} incidents, in process: median at most "
        f"{PAGE_MEDIAN_TARGET_MS} ms, one query count across the requests "
        f"(floor page: {floor:.1f} ms):"
    )
    for label, name in TARGET_PAGES:
        result = results[name]
        median, queries = result["median"], result["queries"]
        steady = len(queries) == 1
        counts = ",".join(str(q) for q in queries)
        print(
            f"{label:<28} median {median:.1f} ms, {median / floor:.1f}× floor "
            f"(target ≤ {PAGE_MEDIAN_TARGET_MS} ms: "
            f"{verdict(median <= PAGE_MEDIAN_TARGET_MS)}); queries {{{counts}}}"
            f" ({'steady: met' if steady else 'varies: MISSED'})"
        )


def print_served_targets(results: dict[str, dict], page: str, floor: str) -> None:
    from served import CONNECTIONS

    incident, floor_result = results[page], results[floor]
    ratio = incident["rate"] / floor_result["rate"]
    print(
        f"\nServed incident page {incident['rate']:.1f} pages/s, floor page "
        f"{floor_result['rate']:.1f} pages/s, ratio {ratio:.2f} "
        f"(target ≥ {SERVED_RATIO_TARGET}: {verdict(ratio >= SERVED_RATIO_TARGET)})"
    )
    print(
        f"Served incident page p95 {incident['p95']:.1f} ms under {CONNECTIONS} "
        f"concurrent clients on 2 workers (target < {SERVED_P95_TARGET_MS} ms: "
        f"{verdict(incident['p95'] < SERVED_P95_TARGET_MS)})"
    )


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def measure(client, url: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm caches and connections
        client.get(url)
    timings, cpu, queries = [], [], set()
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries.add(len(captured))
    timings.sort()
    return {
        "median": statistics.median(timings),
        "p95": timings[int(len(timings) * 0.95) - 1],
        # This process's CPU time: steadier than the clock on a busy machine
        # (excludes waiting for the database and for other processes).
        "cpu": statistics.median(cpu),
        "queries": sorted(queries),
    }


def _metrics_url(*, days: int, policy: bool = False) -> str:
    import datetime as dt

    from incidents.models import Policy

    today = dt.date.today()
    url = f"/metrics/?start={today - dt.timedelta(days=days - 1)}&end={today}"
    if policy:
        url += f"&policy={Policy.objects.get(is_default=True).pk}"
    return url


def main() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("make bench needs DATABASE_URL pointing at PostgreSQL.")
    ensure_database(url)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from typical import typical_incident

    from incidents.models import Customer, Incident

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    have = Incident.objects.count()
    if have < TARGET_ROWS:
        started = time.perf_counter()
        call_command(
            "load_demo_data",
            customers=TARGET_ROWS,
            incidents=TARGET_ROWS,
            stdout=open(os.devnull, "w"),  # noqa: SIM115
        )
        load_seconds = time.perf_counter() - started
        print(
            f"Loaded {Incident.objects.count():,} incidents and "
            f"{Customer.objects.count():,} customers in {load_seconds:.1f} s"
        )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        print(f"Using the {have:,} incidents already loaded.")

    users = get_user_model().objects.in_bulk(
        ["agent", "manager"], field_name="username"
    )
    clients = {}
    for username, user in users.items():
        clients[username] = Client()
        clients[username].force_login(user)
    agent_id = users["agent"].pk
    sample = Incident.objects.order_by("-id").values_list("id", flat=True)[500]
    customer = (
        Incident.objects.filter(customer__account_id__startswith="GEN-")
        .select_related("customer")
        .first()
        .customer
    )
    typical = typical_incident()
    from floor import FLOOR_PATH

    pages = {
        FLOOR_PAGE: FLOOR_PATH,
        "list, plain": "/incidents/",
        "list, open + P1": "/incidents/?status=open&priority=P1",
        "list, mine + open": f"/incidents/?status=open&owner={agent_id}",
        "list, SLA breached": "/incidents/?sla=breached",
        "list, page 200": "/incidents/?page=200",
        "list, search title": "/incidents/?q=Network+issue+4242",
        "list, search customer": f"/incidents/?q={quote_plus(customer.name)}",
        "list, search 'Ana' (broad)": "/incidents/?q=Ana",
        "list, search INC-": f"/incidents/?q=INC-{sample:05d}",
        "detail, new incident": f"/incidents/{sample}/",
        "detail, typical history": f"/incidents/{typical.pk}/",
        "messages tab": f"/incidents/{typical.pk}/messages/",
        "compose": f"/incidents/{typical.pk}/compose/",
        "metrics, 90 days": _metrics_url(days=90),
        "metrics, 1 year": _metrics_url(days=365),
        "metrics, 1 year, one policy": _metrics_url(days=365, policy=True),
        # As (who, path) when not the agent: the queues are the manager's.
        "my work": "/",
        "my work, manager": ("manager", "/"),
        "credit queue": ("manager", "/credits/"),
        "message approvals": ("manager", "/messages/approvals/"),
    }
    from bench_escalations import ESCALATIONS, ensure_escalations
    from django.db import connection

    # The dashboard reads escalations too: measure it with them in place,
    # on analyzed tables as a live database's would be.
    ensure_escalations(ESCALATIONS)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"\n{REQUESTS} requests each, in process (Django test client):")
    print(f"{'page':<28} {'median ms':>10} {'p95 ms':>9} {'CPU ms':>7} {'queries':>8}")
    dashboard_p95, results = {}, {}
    for name, path in pages.items():
        username, path = path if isinstance(path, tuple) else ("agent", path)
        result = measure(clients[username], path, REQUESTS)
        results[name] = result
        queries = ",".join(str(q) for q in result["queries"])
        print(
            f"{name:<28} {result['median']:>10.1f} {result['p95']:>9.1f} "
            f"{result['cpu']:>7.1f} {queries:>8}"
        )
        if name.startswith("metrics"):
            dashboard_p95[name] = result["p95"]
    worst = max(dashboard_p95.values())
    print(
        f"Metrics dashboard at {Incident.objects.count():,} incidents: worst p95 "
        f"{worst:.0f} ms (target: under 300 ms; "
        f"{'met' if worst < 300 else 'MISSED'}); django-helpdesk's dashboard "
        "takes about 2,300 ms at 100,000 tickets."
    )

    from bench_escalations import escalation_pages

    results.update(escalation_pages(measure, REQUESTS))
    print_page_targets(results, Incident.objects.count())

    from served import FLOOR_NAME, BenchError, served_throughput

    # Served figures for the pages agents refresh; each must answer the
    # signed-in page containing its mark.
    try:
        served = served_throughput(
            url,
            {
                "detail, typical history": (
                    f"/incidents/{typical.pk}/",
                    typical.reference,
                ),
                "list, plain": ("/incidents/", "incident-table"),
                "messages tab": (f"/incidents/{typical.pk}/messages/", "Log a reply"),
                "compose": (f"/incidents/{typical.pk}/compose/", "Start from"),
            },
        )
    except BenchError as exc:
        sys.exit(f"Served benchmark failed: {exc}")
    print_served_targets(served, "detail, typical history", FLOOR_NAME)

    from served import public_throughput
    from status_page import ensure_status_page

    status_page = ensure_status_page()
    try:
        public = public_throughput(
            url, f"/status/{status_page.slug}/", status_page.brand_text
        )
    except BenchError as exc:
        sys.exit(f"Public status page benchmark failed: {exc}")
    print(
        f"Public status page {public['rate']:.0f} pages/s on 2 workers (target "
        f"≥ {PUBLIC_PAGE_TARGET_RATE}: "
        f"{verdict(public['rate'] >= PUBLIC_PAGE_TARGET_RATE)})"
    )

    from api.services import issue_api_token

    _, api_token = issue_api_token(
        user=users["agent"], name="make bench", scope="read", actor=users["agent"]
    )
    try:
        api_read = public_throughput(
            url,
            f"/api/v1/incidents/{typical.pk}",
            typical.reference,
            token=api_token,
            label="API incident read",
        )
    except BenchError as exc:
        sys.exit(f"API benchmark failed: {exc}")
    html_read = served["detail, typical history"]
    print(
        f"API incident read {api_read['rate']:.0f} reads/s next to the incident "
        f"page's {html_read['rate']:.0f} pages/s (served, 2 workers)"
    )

    from bench_comms import delivery_rate, render_rate, systemic_notice

    print()
    render_rate()
    delivery_rate()
    systemic_notice()


if __name__ == "__main__":
    main()
