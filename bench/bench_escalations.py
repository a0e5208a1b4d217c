"""Escalation pages at scale: the tier queue, the escalate form, approvals.

Called by bench/run.py after the incident pages (100,000 incidents); adds
BENCH_ESCALATIONS escalations (10,000 by default) once, spread over the
carrier tiers, then prints median and p95 latency and the query counts.
Named bench_escalations, not escalations, because bench/ is on sys.path
ahead of the project and would shadow the app.

Alone, on a smaller database: `DATABASE_URL=postgres://… BENCH_ROWS=5000
BENCH_ESCALATIONS=1000 python bench/bench_escalations.py`.
"""

import datetime as dt
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ESCALATIONS = int(os.environ.get("BENCH_ESCALATIONS", "10000"))
# The p95 budget these pages must stay within.
P95_BUDGET_MS = 50


def ensure_escalations(target: int) -> None:
    """Add escalations until ``target`` exist (rows only, no side effects)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from escalations.models import Escalation, Tier
    from incidents.models import Incident

    have = Escalation.objects.count()
    if have >= target:
        print(f"Using the {have:,} escalations already loaded.")
        return
    rng = random.Random(11)
    tiers = list(
        Tier.objects.filter(
            policy__name="Carrier playbook",
            key__in=["l2", "engineering", "trust_safety", "carrier"],
        )
    )
    agent = get_user_model().objects.get(username="agent")
    incident_ids = list(
        Incident.objects.filter(policy__name="Carrier playbook")
        .order_by("-id")
        .values_list("id", flat=True)[: target * 2]
    )
    now = timezone.now()
    rows = []
    for n in range(target - have):
        tier = tiers[n % len(tiers)]
        created = now - dt.timedelta(minutes=rng.randint(1, 60 * 24 * 30))
        status = rng.choice(["requested", "requested", "acknowledged", "resolved"])
        needs_approval = status == "requested" and n % 10 == 0
        reached = None if needs_approval else created
        rows.append(
            Escalation(
                incident_id=incident_ids[n % len(incident_ids)],
                path=tier.default_path,
                to_tier=tier,
                status=status,
                needs_approval=needs_approval,
                urgency=rng.choice(["low", "medium", "high", "critical"]),
                summary=f"Benchmark escalation {n}",
                customer_wants="A fix.",
                tried="Restarted → no change",
                why="Needs the tier.",
                recommended_resolution="Look into it.",
                requested_by=agent,
                reached_tier_at=reached,
                ack_due_at=reached + dt.timedelta(hours=24) if reached else None,
                acknowledged_at=created if status != "requested" else None,
                created_at=created,
            )
        )
    Escalation.objects.bulk_create(rows, batch_size=2000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE escalations_escalation")
    print(f"Added {len(rows):,} escalations ({Escalation.objects.count():,} now).")


def escalation_pages(measure, requests: int) -> dict[str, dict]:
    """Print the escalation pages' latency and query counts; return each
    page's figures by name (bench/run.py checks some against their targets)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from escalations.models import Escalation, Tier

    ensure_escalations(ESCALATIONS)
    users = get_user_model().objects.in_bulk(
        ["agent", "senior", "manager"], field_name="username"
    )
    l2 = Tier.objects.get(policy__name="Carrier playbook", key="l2")
    l2.members.add(users["senior"])
    sample = (
        Escalation.objects.filter(to_tier=l2)
        .order_by("-id")
        .values_list("incident_id", flat=True)
    )[100]
    pages = [
        ("tier queue", "senior", f"/escalations/tiers/{l2.pk}/"),
        ("tier queue, high", "senior", f"/escalations/tiers/{l2.pk}/?urgency=high"),
        ("tier queue, page 40", "senior", f"/escalations/tiers/{l2.pk}/?page=40"),
        ("escalate form", "agent", f"/incidents/{sample}/escalate/"),
        ("escalations tab", "agent", f"/incidents/{sample}/escalations/"),
        ("escalation approvals", "manager", "/escalations/approvals/"),
        ("tier list", "senior", "/escalations/tiers/"),
    ]
    print(
        f"\nEscalation pages, {Escalation.objects.count():,} escalations, "
        f"{requests} requests each:"
    )
    print(f"{'page':<28} {'median ms':>10} {'p95 ms':>9} {'CPU ms':>7} {'queries':>8}")
    results = {}
    for name, username, path in pages:
        client = Client()
        client.force_login(users[username])
        result = measure(client, path, requests)
        queries = ",".join(str(q) for q in result["queries"])
        over = "  (over budget)" if result["p95"] > P95_BUDGET_MS else ""
        print(
            f"{name:<28} {result['median']:>10.1f} {result['p95']:>9.1f} "
            f"{result['cpu']:>7.1f} {queries:>8}{over}"
        )
        results[name] = result
    return results


def main() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(1, str(ROOT / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from run import ensure_database, measure

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("The escalation benchmark needs DATABASE_URL pointing at PostgreSQL.")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    from incidents.models import Incident

    rows = int(os.environ.get("BENCH_ROWS", "100000"))
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if Incident.objects.count() < rows:
        call_command(
            "load_demo_data",
            customers=rows,
            incidents=rows,
            stdout=open(os.devnull, "w"),  # noqa: SIM115
        )
    escalation_pages(measure, int(os.environ.get("BENCH_REQUESTS", "60")))


if __name__ == "__main__":
    main()
