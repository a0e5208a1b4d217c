"""Load demo users, customers and incidents; safe to run again.

`make run` calls it with no options. The benchmarks call it with
`--customers 100000 --incidents 100000` to fill a large database quickly.
"""

import datetime as dt
import random
from decimal import Decimal

import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents import services, sla
from incidents.models import (
    Category,
    Customer,
    Incident,
    Policy,
    Priority,
    Segment,
    Signal,
    StaffProfile,
    TimelineEvent,
)

DEMO_PASSWORD = "switchboard-demo"
DEMO_USERS = [
    # username, first, last, group, time zone
    ("agent", "Alex", "Agent", "Agent", "Europe/London"),
    ("agent2", "Ana", "Ortiz", "Agent", "America/New_York"),
    ("senior", "Sam", "Senior", "Senior agent", "Europe/Berlin"),
    ("manager", "Morgan", "Manager", "Manager", "America/Chicago"),
    ("vp", "Val", "President", "VP", "America/Los_Angeles"),
    ("admin", "Ada", "Admin", "Admin", "UTC"),
]
DEMO_CUSTOMERS = [
    # name, e-mail, account, segment, VIP, contact person, time zone
    (
        "Priya Raman",
        "priya.raman@example.com",
        "ACC-1001",
        Segment.ENTERPRISE,
        True,
        "",
        "Asia/Kolkata",
    ),
    (
        "Tom Becker",
        "tom.becker@example.com",
        "ACC-1002",
        Segment.STANDARD,
        False,
        "",
        "Europe/Berlin",
    ),
    (
        "Lina Haddad",
        "lina.haddad@example.net",
        "ACC-1003",
        Segment.TRIAL,
        False,
        "",
        "",
    ),
    (
        "Acme Logistics",
        "ops@acme-logistics.example",
        "ACC-1004",
        Segment.ENTERPRISE,
        False,
        "Dana Ortiz",
        "America/Chicago",
    ),
    (
        "Jonas Weber",
        "jonas.weber@example.org",
        "ACC-1005",
        Segment.STANDARD,
        False,
        "",
        "",
    ),
]
DEMO_PARTIES = [
    (
        "partner",
        "ConnectX",
        "noc@connectx.example",
        "escalations@connectx.example",
        "CX-20418",
        2,
    ),
    (
        "vendor",
        "PayFlow payments",
        "support@payflow.example",
        "accounts@payflow.example",
        "PF-7731",
        4,
    ),
    ("vendor", "TextGate SMS", "help@textgate.example", "", "TG-0092", 8),
]
DEMO_INCIDENTS = [
    {
        "title": "eSIM stuck in provisioning after payment",
        "priority": Priority.P2,
        "category": "esim",
        "customer": "ACC-1001",
        "signal": "SIG-002",
        "what_happened": "The customer paid for an eSIM plan yesterday but the "
        "profile never finished provisioning. The QR code page shows an error.",
        "customer_summary": "Your new eSIM has not finished setting up, so your "
        "phone cannot connect yet.",
        "service_status": Incident.ServiceStatus.PENDING_ACTIVATION,
        "sentiment": Incident.Sentiment.FRUSTRATED,
        "customer_contact_count": 2,
        "amount_paid": Decimal("45.00"),
        "is_service_delivered": False,
        "is_partner_action_needed": True,
        "partner_action_details": "Carrier partner to re-push the eSIM profile.",
        "hours_ago": 5,
    },
    {
        "title": "Port-in rejected: account number mismatch",
        "priority": Priority.P3,
        "category": "port_in",
        "customer": "ACC-1002",
        "what_happened": "The number transfer from the old carrier was rejected "
        "twice. The old carrier reports an account number mismatch.",
        "customer_summary": "Moving your number to us was refused by your old "
        "provider because the account number did not match their records.",
        "service_status": Incident.ServiceStatus.ACTIVE,
        "sentiment": Incident.Sentiment.NEUTRAL,
        "hours_ago": 30,
    },
    {
        "title": "Card payments failing at checkout",
        "priority": Priority.P1,
        "category": "payment",
        "is_systemic": True,
        "signal": "SIG-005",
        "what_happened": "Since 09:10 UTC most card payments at checkout return a "
        "gateway timeout. Orders are not created.",
        "customer_summary": "Card payments at checkout are failing, so new orders "
        "cannot be completed right now.",
        "service_status": Incident.ServiceStatus.DEGRADED,
        "is_vendor_action_needed": True,
        "vendor_action_details": "Payment processor to confirm the gateway "
        "incident and give an ETA.",
        "hours_ago": 1,
    },
    {
        "title": "No data service in the north region",
        "priority": Priority.P4,
        "category": "network",
        "customer": "ACC-1003",
        "what_happened": "Customer reports no mobile data since the weekend; "
        "calls and texts work.",
        "customer_summary": "Mobile data is not working in your area; calls and "
        "texts are not affected.",
        "service_status": Incident.ServiceStatus.DEGRADED,
        "hours_ago": 80,
    },
]


class Command(BaseCommand):
    help = "Load demo users, customers and incidents (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers", type=int, default=0, help="Also generate N customers."
        )
        parser.add_argument(
            "--incidents", type=int, default=0, help="Also generate N incidents."
        )
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, customers, incidents, seed, **options):
        random.seed(seed)
        users = self._users()
        self._customers()
        self._incidents(users)
        self._external_parties()
        if customers:
            self._bulk_customers(customers)
        if incidents:
            self._bulk_incidents(incidents, users)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _users(self):
        User = get_user_model()
        users = {}
        for username, first, last, group_name, zone in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@switchboard.example",
                    "is_staff": group_name == "Admin",
                    "is_superuser": group_name == "Admin",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=group_name))
            StaffProfile.objects.get_or_create(user=user, defaults={"time_zone": zone})
            users[username] = user
        return users

    def _customers(self):
        for name, email, account_id, segment, vip, contact, zone in DEMO_CUSTOMERS:
            Customer.objects.get_or_create(
                account_id=account_id,
                defaults={
                    "name": name,
                    "email": email,
                    "segment": segment,
                    "is_vip": vip,
                    "contact_name": contact,
                    "time_zone": zone,
                    "customer_since_on": dt.date(2023, 3, 1),
                },
            )

    def _incidents(self, users):
        if Incident.objects.filter(title=DEMO_INCIDENTS[0]["title"]).exists():
            return
        now = timezone.now()
        categories = {c.slug: c for c in Category.objects.all()}
        for spec in DEMO_INCIDENTS:
            spec = dict(spec)
            hours_ago = spec.pop("hours_ago")
            category = categories[spec.pop("category")]
            customer = spec.pop("customer", None)
            signal = spec.pop("signal", None)
            # Open each as if hours ago, so the demo shows clocks in every state.
            with time_machine.travel(now - dt.timedelta(hours=hours_ago), tick=False):
                services.open_incident(
                    actor=users["agent"],
                    category=category,
                    customer=Customer.objects.get(account_id=customer)
                    if customer
                    else None,
                    signal=Signal.objects.get(code=signal) if signal else None,
                    owner=users["agent"] if hours_ago > 2 else None,
                    **spec,
                )

    def _external_parties(self):
        from comms.models import ExternalParty

        for kind, name, email, escalation, ref, hours in DEMO_PARTIES:
            ExternalParty.objects.get_or_create(
                name=name,
                defaults={
                    "kind": kind,
                    "support_email": email,
                    "escalation_email": escalation,
                    "escalation_contact": "Account management",
                    "account_ref": ref,
                    "ack_hours": hours,
                    "domains": email.rpartition("@")[2],
                },
            )

    def _bulk_customers(self, count):
        existing = Customer.objects.filter(account_id__startswith="GEN-").count()
        segments = [Segment.STANDARD] * 6 + [Segment.ENTERPRISE] * 2 + [Segment.TRIAL]
        first = [
            "Ana",
            "Ben",
            "Chen",
            "Dara",
            "Eli",
            "Fatima",
            "Goran",
            "Hana",
            "Ivo",
            "Jun",
            "Kofi",
            "Lea",
            "Mika",
            "Nora",
            "Omar",
            "Pia",
        ]
        last = [
            "Ahmed",
            "Berg",
            "Costa",
            "Dubois",
            "Evans",
            "Fischer",
            "Garcia",
            "Hill",
            "Ito",
            "Jensen",
            "Kim",
            "Lopez",
            "Meyer",
            "Novak",
            "Olsen",
        ]
        batch = []
        for n in range(existing, count):
            name = f"{random.choice(first)} {random.choice(last)}"
            batch.append(
                Customer(
                    name=f"{name} {n}",
                    email=f"customer{n}@example.com",
                    account_id=f"GEN-{n:07d}",
                    segment=random.choice(segments),
                    is_vip=random.random() < 0.02,
                )
            )
            if len(batch) == 5000:
                Customer.objects.bulk_create(batch)
                batch = []
        Customer.objects.bulk_create(batch)
        self.stdout.write(f"Customers: {Customer.objects.count()}")

    def _bulk_incidents(self, count, users):
        existing = Incident.objects.count()
        if existing >= count:
            return
        policy = Policy.objects.select_related("calendar").get(is_default=True)
        targets = {t.priority: t for t in policy.targets.all()}
        working_days = sla.WorkingDays.of(policy.calendar)
        categories = list(Category.objects.all())
        signals = list(Signal.objects.all())
        customer_ids = list(
            Customer.objects.values_list("id", "segment").order_by("id")[:200_000]
        )
        staff = list(users.values())
        now = timezone.now()
        statuses = [
            *[Incident.Status.CLOSED] * 6,
            Incident.Status.RESOLVED,
            Incident.Status.INVESTIGATING,
            Incident.Status.WAITING_PARTNER,
            Incident.Status.NEW,
        ]
        remaining = count - existing
        while remaining:
            size = min(remaining, 5000)
            batch = []
            for _ in range(size):
                created = now - dt.timedelta(minutes=random.randint(1, 525_600))
                priority = random.choice(Priority.values)
                customer_id, segment = random.choice(customer_ids)
                status = random.choice(statuses)
                deadlines = sla.compute_deadlines(
                    target=targets[priority],
                    policy=policy,
                    segment=segment,
                    start=created,
                    working_days=working_days,
                )
                resolved = (
                    created + dt.timedelta(hours=random.randint(1, 96))
                    if status in (Incident.Status.RESOLVED, Incident.Status.CLOSED)
                    else None
                )
                resolved = min(resolved, now) if resolved else None
                category = random.choice(categories)
                signal = random.choice(signals) if random.random() < 0.3 else None
                batch.append(
                    Incident(
                        title=f"{category.name} issue {random.randint(1000, 99999)}",
                        priority=priority,
                        category=category,
                        signal=signal,
                        status=status,
                        customer_id=customer_id,
                        what_happened="Generated for load testing.",
                        policy=policy,
                        owner=random.choice(staff) if random.random() < 0.8 else None,
                        created_by=random.choice(staff),
                        detected_at=created,
                        created_at=created,
                        updated_at=resolved or created,
                        first_response_at=created
                        + dt.timedelta(minutes=random.randint(5, 600))
                        if status != Incident.Status.NEW
                        else None,
                        resolved_at=resolved,
                        closed_at=resolved
                        if status == Incident.Status.CLOSED
                        else None,
                        **vars(deadlines),
                    )
                )
                batch[-1].tags = services.standard_tags(batch[-1])
            with transaction.atomic():
                created_rows = Incident.objects.bulk_create(batch)
                TimelineEvent.objects.bulk_create(
                    TimelineEvent(
                        incident=incident,
                        kind=TimelineEvent.Kind.OPENED,
                        actor=incident.created_by,
                        created_at=incident.created_at,
                        details={
                            "version": 1,
                            "priority": incident.priority,
                            "policy": policy.name,
                        },
                    )
                    for incident in created_rows
                )
            remaining -= size
            self.stdout.write(f"Incidents: {count - remaining}", ending="\r")
        self.stdout.write("")
