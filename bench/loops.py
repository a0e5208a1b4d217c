"""Sweep benchmark: one sweep over 10,000 open incidents on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchboard_bench_loops \
        DEBUG=false SECRET_KEY=x .venv/bin/python bench/loops.py

Fills the database once with BENCH_LOOP_INCIDENTS open incidents (10,000)
and their internal, customer and partner loops (about 30,000, a sixth of
them due), then times one sweep (comms.services.due_work) and prints the
follow-ups fired, seconds, follow-ups per second and queries per fired
follow-up, next to our target (5,000 due in under 10 s). Run it
twice with different sizes to see the queries per item stay constant.
"""

import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from run import ensure_database  # noqa: E402

INCIDENTS = int(os.environ.get("BENCH_LOOP_INCIDENTS", "10000"))
DUE_SHARE = 6  # one loop in six is due at the sweep


def set_up_database() -> str:
    """Create, migrate and connect to DATABASE_URL's PostgreSQL database.

    Shared by the standalone benchmarks; returns the URL.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database (it is created if missing)."
        )
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


class QueryCounter:
    """Count the queries run inside ``with counter.counting(connection):``."""

    def __init__(self):
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def counting(self, connection):
        return connection.execute_wrapper(self)


def fill(now: dt.datetime) -> None:
    from comms.models import Audience, ExternalParty, FollowUpLoop, FollowUpSlot
    from incidents.models import Category, Customer, Incident, Policy, PolicyTarget

    wanted = INCIDENTS - Incident.objects.filter(title__startswith="Bench ").count()
    policy = Policy.objects.get(is_default=True)
    category = Category.objects.get(slug="esim")
    party, _ = ExternalParty.objects.get_or_create(
        name="Bench carrier",
        defaults={
            "kind": "partner",
            "support_email": "noc@bench-carrier.example",
            "domains": "bench-carrier.example",
        },
    )
    if wanted > 0:
        customers = Customer.objects.bulk_create(
            Customer(
                name=f"Bench customer {n}",
                email=f"bench{n}@example.com",
                account_id=f"BENCH-{n:06d}",
            )
            for n in range(
                Customer.objects.filter(account_id__startswith="BENCH-").count(), 200
            )
        ) or list(Customer.objects.filter(account_id__startswith="BENCH-"))
        opened = now - dt.timedelta(hours=1)
        Incident.objects.bulk_create(
            (
                Incident(
                    title=f"Bench incident {n}",
                    priority="P3",
                    category=category,
                    status=Incident.Status.INVESTIGATING,
                    customer=customers[n % len(customers)],
                    what_happened="Benchmark.",
                    policy=policy,
                    is_partner_action_needed=True,
                    partner_action_details="Benchmark.",
                    detected_at=opened,
                    created_at=opened,
                    updated_at=opened,
                    first_response_due_at=opened + dt.timedelta(hours=8),
                    first_response_at_risk_at=opened + dt.timedelta(hours=6),
                    resolution_due_at=opened + dt.timedelta(hours=72),
                    resolution_at_risk_at=opened + dt.timedelta(hours=70),
                    tags=["incident"],
                )
                for n in range(wanted)
            ),
            batch_size=2000,
        )
    # Reset the loops so every run measures the same sweep.
    FollowUpSlot.objects.all().delete()
    FollowUpLoop.objects.all().delete()
    target = PolicyTarget.objects.get(policy=policy, priority="P3")
    loops, n = [], 0
    for incident_id in Incident.objects.filter(title__startswith="Bench ").values_list(
        "pk", flat=True
    ):
        for audience, minutes in (
            (Audience.INTERNAL, target.internal_update_minutes),
            (Audience.CUSTOMER, target.customer_update_minutes),
            (Audience.PARTNER, target.partner_update_minutes),
        ):
            n += 1
            due = n % DUE_SHARE == 0
            loops.append(
                FollowUpLoop(
                    incident_id=incident_id,
                    audience=audience,
                    party=party if audience == Audience.PARTNER else None,
                    priority="P3",
                    policy=policy,
                    cadence_minutes=minutes,
                    started_at=now - dt.timedelta(minutes=minutes),
                    next_due_at=now - dt.timedelta(seconds=30)
                    if due
                    else now + dt.timedelta(hours=1),
                )
            )
    FollowUpLoop.objects.bulk_create(loops, batch_size=5000)
    # A live database's statistics follow its tables (autovacuum analyzes
    # them); without this the planner plans the sweep for the empty loop
    # table of before the fill and runs a 50-million-row nested loop.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    set_up_database()
    from django.db import connection
    from django.utils import timezone

    from comms import services
    from comms.models import FollowUpLoop, Message

    now = timezone.now().replace(microsecond=0)
    fill(now)
    due = FollowUpLoop.objects.filter(next_due_at__lte=now).count()
    total = FollowUpLoop.objects.count()
    Message.objects.filter(incident__title__startswith="Bench ").update(
        status="cancelled"
    )
    counter = QueryCounter()
    started = time.perf_counter()
    with counter.counting(connection):
        done = services.due_work(now)
    elapsed = time.perf_counter() - started
    fired = done["follow_ups_fired"]
    print(
        f"Sweep: {total:,} loops on {INCIDENTS:,} open incidents, {due:,} due: "
        f"fired {fired:,} in {elapsed:.2f} s = {fired / elapsed:,.0f} follow-ups/s, "
        f"{counter.queries / max(fired, 1):.1f} queries per fired follow-up "
        f"({counter.queries:,} queries); target: 5,000 due in under 10 s"
    )


if __name__ == "__main__":
    main()
