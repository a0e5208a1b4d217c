"""Load demo users, customers and incidents; safe to run again.

`make run` calls it with no options. The benchmarks call it with
`--customers 100000 --incidents 100000` to fill a large database quickly.
"""

import datetime as dt
import random
from decimal import Decimal

import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from comms.models import Channel
from incidents import selectors, services, sla
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
from portal.bulk import insert_rows

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
# The fuller records the escalation messages draw on (agency resolution
# protocol, carrier escalation guide, fleet escalation playbook).
DEMO_RECORDS = {
    "ACC-1002": {"phone": "+49 30 901820", "old_carrier_account": "4471209938"},
    "ACC-1004": {
        "company": "Acme Logistics",
        "contact_title": "Fleet Manager",
        "phone": "+1 312 555 0142",
        "package_level": "Enterprise",
        "annual_contract_value": Decimal("100000"),
        "relationship_status": "at_risk",
        "renewal_on": dt.date(2027, 3, 1),
    },
}
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
    (
        "Northwind Freight",
        "it-support@northwind-freight.example",
        "ACC-1006",
        Segment.ENTERPRISE,
        True,
        "Lars Nilsen",
        "Europe/Oslo",
    ),
    (
        "Maya Chen",
        "maya.chen@example.com",
        "ACC-1007",
        Segment.STANDARD,
        False,
        "",
        "America/Los_Angeles",
    ),
    (
        "Bright Clinics",
        "admin@brightclinics.example",
        "ACC-1008",
        Segment.STANDARD,
        False,
        "Ama Mensah",
        "Africa/Accra",
    ),
    (
        "Harbor Line Trucking",
        "dispatch@harborline.example",
        "FLT-2001",
        Segment.ENTERPRISE,
        False,
        "Rosa Delgado",
        "America/Los_Angeles",
    ),
]
# Customers under another policy than the default (the carrier playbook),
# so that policy's tiers, triggers and targets show in the demo too.
DEMO_POLICIES = {"FLT-2001": "Fleet SaaS"}
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
H = 60  # minutes
# The demo tells a dozen short stories, each keyed by a "demo:<slug>" tag so
# that loading again skips it even after someone renamed the incident.
# "opened" is how many minutes before now it was opened; each step runs that
# many minutes after the opening, so every status, every SLA state (met,
# running, at risk, breached under the carrier policy) and every message
# state shows whenever the demo is loaded.
DEMO_TAG_PREFIX = "demo:"
DEMO_STORIES = [
    {
        "slug": "esim-provisioning",
        "opened": 23 * H,  # P2: resolution due at 24 h, at risk from 22 h
        "incident": {
            "title": "eSIM stuck in provisioning after payment",
            "priority": Priority.P2,
            "category": "esim",
            "customer": "ACC-1001",
            "signal": "SIG-003",
            "what_happened": "The customer paid for an eSIM plan yesterday but "
            "the profile never finished provisioning. The QR code page shows "
            "an error.",
            "customer_summary": "Your new eSIM has not finished setting up, so "
            "your phone cannot connect yet.",
            "service_status": Incident.ServiceStatus.PENDING_ACTIVATION,
            "sentiment": Incident.Sentiment.FRUSTRATED,
            "customer_contact_count": 2,
            "amount_paid": Decimal("45.00"),
            "is_service_delivered": False,
            "is_partner_action_needed": True,
            "partner_action_details": "Carrier partner to re-push the eSIM profile.",
        },
        "owner": "agent",
        "steps": [
            (5, "move", {"to": "investigating"}),
            (40, "send", {"audience": "customer", "stage": "creation"}),
            (60, "send", {"audience": "partner", "party": "ConnectX"}),
            (70, "move", {"to": "waiting_partner"}),
            (
                180,
                "reply",
                {
                    "sender_kind": "partner",
                    "party": "ConnectX",
                    "text": "Profile re-push queued on our side; expect it "
                    "within the day.",
                },
            ),
        ],
    },
    {
        "slug": "port-in-rejected",
        "opened": 3 * H,  # P3: running
        "incident": {
            "title": "Port-in rejected: account number mismatch",
            "priority": Priority.P3,
            "category": "port_in",
            "customer": "ACC-1002",
            "what_happened": "The number transfer from the old carrier was "
            "rejected twice. The old carrier reports an account number "
            "mismatch.",
            "customer_summary": "Moving your number to us was refused by your "
            "old provider because the account number did not match their "
            "records.",
            "sentiment": Incident.Sentiment.NEUTRAL,
        },
        "owner": "agent2",
        "steps": [
            (10, "move", {"to": "investigating"}),
            (30, "send", {"audience": "customer", "stage": "creation"}),
            (
                60,
                "reply",
                {
                    "sender_kind": "customer",
                    "text": "The account number on my old bill is "
                    "7781-220-19, maybe the dashes matter?",
                },
            ),
            (
                120,
                "send",
                {
                    "audience": "customer",
                    "stage": "follow_up",
                    "follow_up_number": 1,
                    "send_in": 2 * H,  # scheduled: leaves in two hours
                },
            ),
        ],
    },
    {
        "slug": "card-payments-failing",
        "opened": 90,  # P1 systemic, no customer reply yet: breached
        "incident": {
            "title": "Card payments failing at checkout",
            "priority": Priority.P1,
            "category": "payment",
            "is_systemic": True,
            "signal": "SIG-005",
            "what_happened": "Since the morning most card payments at checkout "
            "return a gateway timeout. Orders are not created.",
            "customer_summary": "Card payments at checkout are failing, so new "
            "orders cannot be completed right now.",
            "service_status": Incident.ServiceStatus.DEGRADED,
            "is_vendor_action_needed": True,
            "vendor_action_details": "Payment processor to confirm the gateway "
            "incident and give an ETA.",
        },
        "owner": "senior",
        "steps": [
            (
                1,
                "affected",
                {"customers": ["ACC-1004", "ACC-1006", "ACC-1008", "ACC-1002"]},
            ),
            (2, "move", {"to": "investigating"}),
            (3, "send", {"audience": "internal", "channel": "chat"}),
            (8, "send", {"audience": "customer", "stage": "creation"}),
            (
                20,
                "reject",
                {
                    "reason": "Do not promise a fix time; the processor has "
                    "not confirmed one.",
                },
            ),
            (25, "send", {"audience": "vendor", "party": "PayFlow payments"}),
            (
                30,
                "send",
                {
                    "audience": "customer",
                    "stage": "creation",
                    "body": "Card payments at checkout are failing for many "
                    "customers, yours included. We are working with our "
                    "payment processor and will update you within the hour.",
                },
            ),
            (45, "move", {"to": "fix_in_progress"}),
        ],
    },
    {
        "slug": "sms-codes-missing",
        "opened": 20,  # P1: first response due at 30 min, at risk from 15
        "incident": {
            "title": "SMS verification codes not arriving",
            "priority": Priority.P1,
            "category": "network",
            "customer": "ACC-1004",
            "what_happened": "Drivers cannot log in to the fleet app: one-time "
            "codes by SMS do not arrive since 20 minutes.",
            "customer_summary": "Log-in codes sent by text message are not "
            "reaching your drivers' phones.",
            "service_status": Incident.ServiceStatus.DEGRADED,
            "sentiment": Incident.Sentiment.ANGRY,
            "customer_contact_count": 3,
        },
        "owner": None,
        "steps": [
            (10, "send", {"audience": "customer", "stage": "creation"}),
        ],
    },
    {
        "slug": "no-data-north",
        "opened": 30 * H,  # P4, nobody answered in 24 h: breached
        "incident": {
            "title": "No data service in the north region",
            "priority": Priority.P4,
            "category": "network",
            "customer": "ACC-1003",
            "what_happened": "Customer reports no mobile data since the "
            "weekend; calls and texts work.",
            "customer_summary": "Mobile data is not working in your area; "
            "calls and texts are not affected.",
            "service_status": Incident.ServiceStatus.DEGRADED,
        },
        "owner": None,
        "steps": [],
    },
    {
        "slug": "data-bundle-missing",
        "opened": 30 * H,  # P2 past its 24 h resolution: breached
        "incident": {
            "title": "Data bundle not applied after top-up",
            "priority": Priority.P2,
            "category": "payment",
            "customer": "ACC-1001",
            "what_happened": "A 10 GB bundle bought by card shows as paid but "
            "the allowance never appeared on the line.",
            "customer_summary": "The data bundle you bought has not been added "
            "to your line yet.",
            "amount_paid": Decimal("20.00"),
            "is_service_delivered": False,
            "sentiment": Incident.Sentiment.FRUSTRATED,
            "customer_contact_count": 1,
        },
        "owner": "agent",
        "steps": [
            (15, "move", {"to": "investigating"}),
            (90, "send", {"audience": "customer", "stage": "creation"}),
        ],
    },
    {
        "slug": "business-port-delay",
        "opened": 10 * H,  # P2 in monitoring: running
        "incident": {
            "title": "Porting delay for business lines",
            "priority": Priority.P2,
            "category": "port_in",
            "customer": "ACC-1008",
            "what_happened": "Twelve clinic lines scheduled to port this "
            "morning are still on the old carrier.",
            "customer_summary": "Your twelve lines have not moved over from "
            "your previous provider yet.",
            "root_cause": "Batch port window missed at the donor carrier.",
        },
        "owner": "agent2",
        "steps": [
            (10, "move", {"to": "investigating"}),
            (60, "send", {"audience": "customer", "stage": "creation"}),
            (
                240,
                "send",
                {"audience": "customer", "stage": "follow_up", "follow_up_number": 1},
            ),
            # Promised follow-ups go at the cadence, however close together.
            (
                360,
                "send",
                {"audience": "customer", "stage": "follow_up", "follow_up_number": 2},
            ),
            (480, "move", {"to": "monitoring"}),
        ],
    },
    {
        "slug": "roaming-outage-alert",
        "opened": 3 * H,  # found by a signal; the customer is warned unasked
        "incident": {
            "title": "Roaming data down in Spain",
            "priority": Priority.P3,
            "category": "network",
            "customer": "ACC-1006",
            "signal": "SIG-001",
            "what_happened": "Monitoring sees roaming data sessions in Spain "
            "failing since this morning.",
            "customer_summary": "Mobile data abroad in Spain is not working on "
            "your lines at the moment.",
            "root_cause": "Roaming partner gateway outage in Spain.",
        },
        "owner": "agent2",
        "steps": [
            (5, "move", {"to": "investigating"}),
            (10, "send", {"audience": "customer", "stage": "creation"}),
        ],
    },
    {
        "slug": "roaming-outage-alert-again",
        "opened": 2 * H,  # same cause, same customer: the second alert is held
        "incident": {
            "title": "Roaming calls failing in Spain",
            "priority": Priority.P3,
            "category": "network",
            "customer": "ACC-1006",
            "signal": "SIG-001",
            "what_happened": "Monitoring sees roaming calls in Spain failing; "
            "same gateway as the data outage.",
            "customer_summary": "Calls abroad in Spain are failing on your "
            "lines at the moment.",
            "root_cause": "Roaming partner gateway outage in Spain.",
        },
        "owner": "agent2",
        "steps": [
            (5, "move", {"to": "investigating"}),
            # Within the policy's proactive window for the same cause:
            # suppressed, with the reason on the Messages tab.
            (10, "send", {"audience": "customer", "stage": "creation"}),
        ],
    },
    {
        "slug": "qr-code-not-scanning",
        "opened": 5 * H,  # P3 waiting on the customer: running
        "incident": {
            "title": "eSIM QR code does not scan",
            "priority": Priority.P3,
            "category": "esim",
            "customer": "ACC-1005",
            "what_happened": "The phone camera does not recognise the eSIM QR "
            "code from the activation e-mail.",
            "customer_summary": "Your phone cannot read the QR code we sent to "
            "set up your eSIM.",
        },
        "owner": "agent",
        "steps": [
            (5, "move", {"to": "investigating"}),
            (20, "send", {"audience": "customer", "stage": "creation"}),
            (60, "move", {"to": "waiting_customer"}),
            (
                240,
                "draft",
                {"audience": "customer", "stage": "follow_up", "follow_up_number": 1},
            ),
        ],
    },
    {
        "slug": "refund-stuck",
        "opened": 2 * H,  # P3 waiting on the vendor: running
        "incident": {
            "title": "Refund stuck at the payment processor",
            "priority": Priority.P3,
            "category": "payment",
            "customer": "ACC-1004",
            "what_happened": "A refund for a cancelled order was approved "
            "three days ago but the processor still shows it as pending.",
            "customer_summary": "Your refund has been approved but has not "
            "reached your card yet.",
            "amount_paid": Decimal("129.00"),
            "is_vendor_action_needed": True,
            "vendor_action_details": "Processor to release the pending refund.",
        },
        "owner": "agent2",
        "steps": [
            (5, "move", {"to": "investigating"}),
            (15, "send", {"audience": "customer", "stage": "creation"}),
            (25, "send", {"audience": "vendor", "party": "PayFlow payments"}),
            (30, "move", {"to": "waiting_vendor"}),
            (
                90,
                "reply",
                {
                    "sender_kind": "vendor",
                    "party": "PayFlow payments",
                    "text": "Refund batch was held for review; released now.",
                },
            ),
        ],
    },
    {
        "slug": "voicemail-reset",
        "opened": 30 * H,  # P3 resolved in time: met
        "incident": {
            "title": "Voicemail greeting resets every night",
            "priority": Priority.P3,
            "category": "network",
            "customer": "ACC-1005",
            "what_happened": "A custom voicemail greeting reverts to the "
            "default greeting overnight.",
            "customer_summary": "Your own voicemail greeting keeps changing "
            "back to the standard one.",
            "root_cause": "A nightly profile sync overwrote greeting settings.",
            "fix_summary": "We corrected your voicemail profile so your "
            "greeting is kept.",
        },
        "owner": "agent",
        "steps": [
            (10, "move", {"to": "investigating"}),
            (60, "send", {"audience": "customer", "stage": "creation"}),
            (20 * H, "move", {"to": "resolved"}),
            (20 * H + 5, "send", {"audience": "customer", "stage": "resolution"}),
        ],
    },
    {
        "slug": "roaming-disabled",
        "opened": 3 * 24 * H,  # P2 closed after the customer confirmed: met
        "incident": {
            "title": "Roaming not enabled on a new contract",
            "priority": Priority.P2,
            "category": "network",
            "customer": "ACC-1006",
            "what_happened": "A driver in Sweden has no service; roaming was "
            "not switched on with the new contract.",
            "customer_summary": "Roaming was not switched on for one of your "
            "lines, so it has no service abroad.",
            "root_cause": "Contract template missed the roaming add-on.",
            "fix_summary": "We switched roaming on for the line; it works "
            "abroad again.",
            "service_status": Incident.ServiceStatus.NO_SERVICE,
        },
        "owner": "agent",
        "steps": [
            (5, "move", {"to": "investigating"}),
            (30, "send", {"audience": "customer", "stage": "creation"}),
            (10 * H, "move", {"to": "resolved"}),
            (10 * H + 5, "send", {"audience": "customer", "stage": "resolution"}),
            (
                11 * H,
                "reply",
                {
                    "sender_kind": "customer",
                    "kind": "confirmed",
                    "text": "Driver confirms he has service again, thanks.",
                },
            ),
            (12 * H, "move", {"to": "closed"}),
            (12 * H + 5, "send", {"audience": "customer", "stage": "closure"}),
        ],
    },
    {
        "slug": "double-charge",
        "opened": 4 * 24 * H,  # P3 closed pending within 72 h: met
        "incident": {
            "title": "Bill shows a double charge for March",
            "priority": Priority.P3,
            "category": "payment",
            "customer": "ACC-1007",
            "what_happened": "The March invoice lists the monthly plan twice.",
            "customer_summary": "Your March bill shows the monthly plan twice.",
        },
        "owner": "agent2",
        "steps": [
            (10, "move", {"to": "investigating"}),
            (60, "send", {"audience": "customer", "stage": "creation"}),
            (2 * H, "move", {"to": "waiting_customer"}),
            (
                3 * H,
                "fail",
                {
                    "audience": "customer",
                    "stage": "follow_up",
                    "follow_up_number": 1,
                    "error": "550 5.2.2 maya.chen@example.com: mailbox full",
                },
            ),
            (60 * H, "move", {"to": "closed_pending"}),
        ],
    },
    {
        # Under the fleet policy (fleet escalation playbook): the cluster's
        # first sweep escalates this Sev 1 to Tier 2, Tier 3 and management
        # by itself, sounds the urgent alarm and holds the customer's notice
        # for approval.
        "slug": "fleet-trip-sync",
        "opened": 20,
        "incident": {
            "title": "Trip logs stopped syncing for the whole fleet",
            "priority": Priority.P1,
            "category": "sync",
            "customer": "FLT-2001",
            "what_happened": "Since this morning no truck's trip log reaches "
            "the dashboard; drivers' apps show 'sync pending'.",
            "customer_summary": "Trip logs from your trucks are not reaching "
            "your dashboard.",
            "sentiment": Incident.Sentiment.FRUSTRATED,
        },
        "owner": "agent",
        "steps": [(5, "move", {"to": "investigating"})],
    },
]


DEMO_STATUS_PAGES = [
    {
        "slug": "fleet",
        "name": "Fleet Manager status",
        "brand": "Fleet Manager",
        "intro": "Live status of the Fleet Manager apps and dashboard.",
        "time_zone": "America/Chicago",
        "policy": "Fleet SaaS",
        "groups": [
            (
                "Mobile app",
                [
                    ("Trip tracking", "GPS trips recorded by the app", ["gps_trips"]),
                    ("OBD2 devices", "Vehicle data from plug-in devices", ["obd2"]),
                    ("Sign-in", "Signing in to the app and dashboard", ["sign_in"]),
                ],
            ),
            (
                "Platform",
                [
                    ("Trip sync", "Trips reaching the dashboard", ["sync"]),
                    (
                        "Dashboard",
                        "Reports and the live map",
                        ["performance", "app_crash"],
                    ),
                ],
            ),
        ],
        "maintenance": (
            "Database upgrade",
            "We are upgrading the database behind the dashboard. Reports may "
            "load slowly for up to an hour; trips are kept and sync afterwards.",
            ["Dashboard", "Trip sync"],
            1,
        ),
        "story": "fleet-trip-sync",
        "impact": "major_outage",
        "title": "Trip logs are not reaching the dashboard",
    },
    {
        "slug": "network",
        "name": "Network status",
        "brand": "Carrier",
        "intro": "Mobile data, activation, porting and payments.",
        "time_zone": "Europe/London",
        "policy": "Carrier playbook",
        "groups": [
            (
                "Network",
                [
                    ("Mobile data", "Data, calls and texts", ["network"]),
                    ("eSIM activation", "New eSIMs and QR codes", ["esim"]),
                    ("Number porting", "Bringing a number to us", ["port_in"]),
                ],
            ),
            (
                "Account",
                [("Payments", "Card payments at checkout", ["payment"])],
            ),
        ],
        "maintenance": None,
        "story": "card-payments-failing",
        "impact": "partial_outage",
        "title": "Card payments failing at checkout",
    },
]


DEMO_WORDING = {
    # (audience, stage): (subject, body); filled from the incident.
    ("customer", "creation"): (
        "We are looking into it: {title} ({ref})",
        "Hello,\n\nThank you for telling us. {summary} We are working on it "
        "and will write again with an update.\n\nCustomer Support",
    ),
    ("customer", "follow_up"): (
        "Update on {ref}: {title}",
        "Hello,\n\nA quick update: we are still working on this. {summary}\n\n"
        "We will write again as soon as we know more.\n\nCustomer Support",
    ),
    ("customer", "resolution"): (
        "Resolved: {title} ({ref})",
        "Hello,\n\n{fix}\n\nIf anything still looks wrong, reply to this "
        "e-mail and we will pick it up straight away.\n\nCustomer Support",
    ),
    ("customer", "closure"): (
        "Closing {ref}: thank you for confirming",
        "Hello,\n\nThank you for confirming that everything works again. We "
        "are closing this case now.\n\nCustomer Support",
    ),
    ("internal", "follow_up"): (
        "{ref}",
        "{ref} {title}: investigating. Next customer update within the hour.",
    ),
    ("partner", "follow_up"): (
        "{ref}: action needed",
        "Hello {party} team,\n\n{ask}\n\nPlease confirm when done.\n\nCustomer Support",
    ),
    ("vendor", "follow_up"): (
        "{ref}: action needed",
        "Hello {party} team,\n\n{ask}\n\nPlease confirm when done.\n\nCustomer Support",
    ),
}


def demo_slugs() -> set[str]:
    """Return the slugs of the demo stories already loaded."""
    # JSON "contains" is not available on SQLite; the text match narrows the
    # rows and the exact tag is checked here.
    tagged = Incident.objects.filter(tags__icontains=f'"{DEMO_TAG_PREFIX}')
    return {
        tag.removeprefix(DEMO_TAG_PREFIX)
        for tags in tagged.values_list("tags", flat=True)
        for tag in tags
        if tag.startswith(DEMO_TAG_PREFIX)
    }


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
        self._customers(users)
        self._external_parties()
        self._incidents(users)
        self._credits(users)
        self._learning(users)
        self._escalations(users)
        self._status_pages(users)
        if customers:
            self._bulk_customers(customers)
        if incidents:
            self._bulk_incidents(incidents, users)
        self._automation()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    # --- Status pages -----------------------------------------------------
    def _status_pages(self, users):
        """Two public pages with components; the fleet Sev 1 and the systemic
        payments outage are published on them, approved by the manager."""
        from comms import services as comms_services
        from comms.models import Message
        from statuspage import services as status_services
        from statuspage.models import (
            Component,
            ComponentGroup,
            Impact,
            Publication,
            PublicStatus,
            PublicUpdate,
            StatusPage,
        )

        categories = {c.slug: c for c in Category.objects.all()}
        now = timezone.now()
        for spec in DEMO_STATUS_PAGES:
            page, created = StatusPage.objects.get_or_create(
                slug=spec["slug"],
                defaults={
                    "name": spec["name"],
                    "brand_text": spec["brand"],
                    "intro": spec["intro"],
                    "time_zone": spec["time_zone"],
                    "policy": Policy.objects.filter(name=spec["policy"]).first(),
                },
            )
            if not created:
                continue
            for position, (group_name, components) in enumerate(spec["groups"]):
                group = ComponentGroup.objects.create(
                    page=page, name=group_name, position=position
                )
                for n, (name, description, slugs) in enumerate(components):
                    component = Component.objects.create(
                        page=page,
                        group=group,
                        name=name,
                        description=description,
                        position=n,
                    )
                    component.categories.set(categories[s] for s in slugs)
            if spec["maintenance"]:
                title, body, names, hours = spec["maintenance"]
                starts = (now + dt.timedelta(days=1)).replace(
                    hour=2, minute=0, second=0, microsecond=0
                )
                window = Publication.objects.create(
                    page=page,
                    kind=Publication.Kind.MAINTENANCE,
                    title=title,
                    impact=Impact.MAINTENANCE,
                    status=PublicStatus.SCHEDULED,
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(hours=hours),
                )
                affected = page.components.filter(name__in=names)
                window.components.set(affected)
                notice = PublicUpdate.objects.create(
                    publication=window,
                    status=PublicStatus.SCHEDULED,
                    impact=Impact.MAINTENANCE,
                    body=body,
                    posted_at=now,
                )
                notice.components.set(affected)
            story = Incident.objects.filter(
                tags__icontains=f'"{DEMO_TAG_PREFIX}{spec["story"]}"'
            ).first()
            if story is None or story.status not in Incident.UNRESOLVED_STATUSES:
                continue
            update = status_services.publish_from_incident(
                incident=story,
                actor=users["agent"],
                page=page,
                components=list(status_services.suggested_components(story, page)),
                impact=spec["impact"],
                status=PublicStatus.INVESTIGATING,
                title=spec["title"],
                body=story.customer_summary,
            )
            message = update.message
            if message.status == Message.Status.AWAITING_APPROVAL:
                message = comms_services.approve_message(
                    message=message, actor=users["manager"]
                )
            if message.status == Message.Status.QUEUED:
                comms_services.deliver_message(message_id=message.pk)

    # Automation: an integration, a signal's category, a piece of unmatched
    # mail, and the incidents' follow-up loops (opened only: the cluster's
    # first sweep fires what is due, so loading stays repeatable).
    def _automation(self):
        from comms import mail_threads
        from comms import services as comms_services
        from comms.models import InboundMail, MonitoringIntegration
        from incidents.models import Category, Signal

        Signal.objects.filter(code="SIG-002", category__isnull=True).update(
            category=Category.objects.filter(slug="network").first(), priority="P2"
        )
        if not MonitoringIntegration.objects.filter(name="Demo monitoring").exists():
            token = comms_services.monitoring.issue_integration_token(
                integration=MonitoringIntegration(name="Demo monitoring")
            )
            self.stdout.write(
                f"Monitoring token (shown once): {token}\n  curl -X POST "
                f"-H 'Authorization: Bearer {token}' -H 'Content-Type: "
                'application/json\' -d \'{"signal": "SIG-002", "dedup_key": '
                '"tower-17", "description": "Data drops near tower 17", '
                '"customers": ["ACC-1001"]}\' '
                f"{(settings.PORTAL_BASE_URL or 'http://127.0.0.1:8000').rstrip('/')}"
                "/api/signals/"
            )
        if not InboundMail.objects.filter(message_id="<demo-unmatched@example>"):
            comms_services.receive_email(
                parsed=mail_threads.ParsedMail(
                    from_address="sam@customer.example",
                    from_name="Sam",
                    to_addresses=["support@switchboard.example"],
                    subject="My phone still says no service",
                    text="Hello, is anyone looking at this? My line is still down.",
                    message_id="<demo-unmatched@example>",
                ),
                source=InboundMail.Source.SMTP,
            )
        comms_services.loops.open_missing_loops(timezone.now())

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

    def _customers(self, users):
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
                    **DEMO_RECORDS.get(account_id, {}),
                    "success_manager": users["manager"]
                    if account_id in DEMO_RECORDS
                    else None,
                    "policy": Policy.objects.get(name=DEMO_POLICIES[account_id])
                    if account_id in DEMO_POLICIES
                    else None,
                },
            )

    def _incidents(self, users):
        loaded = demo_slugs()
        now = timezone.now()
        categories = {c.slug: c for c in Category.objects.all()}
        # Demo deliveries never leave the machine: every channel stores only.
        quiet = {name: "comms.channels.NoteChannel" for name in Channel.values}
        with override_settings(COMMS_CHANNEL_BACKENDS=quiet):
            for story in DEMO_STORIES:
                if story["slug"] in loaded:
                    continue
                with transaction.atomic():
                    self._tell(story, users, categories, now)

    # --- Escalations ------------------------------------------------------
    def _escalations(self, users):
        """Make "senior" a member of the tiers no role fills; escalate two incidents."""
        from comms import services as comms_services
        from comms.models import Message
        from escalations import services as escalation_services
        from escalations.models import Escalation, PreEscalationCheck, Tier

        for tier in Tier.objects.filter(
            key__in=[
                "engineering",
                "trust_safety",
                "carrier",
                "legal",
                "tier3",
                "customer_success",
                "security",
            ]
        ):
            tier.members.add(users["senior"])
        if Escalation.objects.exists():
            return
        demo = [
            i
            for i in Incident.objects.filter(
                status__in=Incident.OPEN_STATUSES, policy__is_default=True
            ).order_by("pk")
            if i.status != Incident.Status.RESOLVED
            and any(t.startswith(DEMO_TAG_PREFIX) for t in i.tags)
        ][:2]
        note = {
            "summary": "The customer's line still has no service after the "
            "usual fixes.",
            "customer_wants": "Working service today.",
            "tried": "Reset network settings → no change\nReissued the eSIM → "
            "install fails",
            "why": "Needs account-level access L1 does not have.",
            "recommended_resolution": "Reprovision the line.",
            "urgency": "high",
            "sentiment": "frustrated",
        }
        quiet = {name: "comms.channels.NoteChannel" for name in Channel.values}
        with override_settings(COMMS_CHANNEL_BACKENDS=quiet):
            for incident, refund in zip(demo, (None, Decimal("180.00")), strict=False):
                checks = {
                    pk: True
                    for pk in PreEscalationCheck.objects.filter(
                        policy=incident.policy
                    ).values_list("pk", flat=True)
                }
                escalation_services.request_escalation(
                    incident=incident,
                    actor=users["agent"],
                    path="l2",
                    tiers=[Tier.objects.get(policy=incident.policy, key="l2")],
                    note=note,
                    checks=checks,
                    refund_amount=refund,
                )
                # Demo messages are delivered at once (to notes), as the
                # stories' are, so none is left queued without a cluster.
                for message_id in Message.objects.filter(
                    incident=incident, status=Message.Status.QUEUED
                ).values_list("pk", flat=True):
                    comms_services.deliver_message(message_id=message_id)

    def _tell(self, story, users, categories, now):
        spec = dict(story["incident"])
        category = categories[spec.pop("category")]
        customer = spec.pop("customer", None)
        signal = spec.pop("signal", None)
        opened_at = now - dt.timedelta(minutes=story["opened"])
        owner = users[story["owner"]] if story["owner"] else None
        with time_machine.travel(opened_at, tick=False):
            incident = services.open_incident(
                actor=users["agent"],
                category=category,
                customer=Customer.objects.get(account_id=customer)
                if customer
                else None,
                signal=Signal.objects.get(code=signal) if signal else None,
                owner=owner,
                extra_tags=[f"{DEMO_TAG_PREFIX}{story['slug']}"],
                **spec,
            )
        for minutes, action, options in story["steps"]:
            at = opened_at + dt.timedelta(minutes=minutes)
            with time_machine.travel(at, tick=False):
                incident.refresh_from_db()
                getattr(self, f"_step_{action}")(
                    incident, users, dict(options), now=now
                )

    def _step_move(self, incident, users, options, **_):
        if options["to"] == "closed":
            self._work_checklist(incident, users)
        services.move_incident(
            incident=incident, actor=users["agent"], to_status=options["to"]
        )

    def _work_checklist(self, incident, users):
        """Settle every open closure checklist item, as the team would, so
        the close guard lets the story close."""
        from incidents.models import IncidentChecklistItem

        services.refresh_checklists(incident=incident, actor=users["agent"])
        for item in IncidentChecklistItem.objects.filter(
            checklist__incident=incident, state="open"
        ):
            if item.evidence == "none":
                services.tick_checklist_item(
                    item=item, actor=users["agent"], note="Checked (demo data)"
                )
            else:
                # The portal's records would tick it; only a manager settles
                # one by hand, and the reason shows on the checklist.
                services.mark_checklist_item_not_applicable(
                    item=item,
                    actor=users["manager"],
                    reason="Handled outside the portal (demo data)",
                )

    def _step_affected(self, incident, users, options, **_):
        for account_id in options["customers"]:
            services.add_affected_customer(
                incident=incident,
                actor=users["agent"],
                customer=Customer.objects.get(account_id=account_id),
                status_before="Checkout failing",
            )

    def _message_fields(self, incident, options, now):
        from comms import selectors as comms_selectors
        from comms.models import Audience, ExternalParty, Stage

        audience = options["audience"]
        channel = options.get(
            "channel", Channel.CHAT if audience == Audience.INTERNAL else "email"
        )
        stage = options.get("stage", Stage.FOLLOW_UP)
        party = (
            ExternalParty.objects.get(name=options["party"])
            if "party" in options
            else None
        )
        number = options.get("follow_up_number")
        if audience in (Audience.PARTNER, Audience.VENDOR) and number is None:
            number = 1
        subject, body = DEMO_WORDING[(audience, stage)]
        send_in = options.get("send_in")
        return {
            "audience": audience,
            "channel": channel,
            "stage": stage,
            "situation": "",
            "follow_up_number": number,
            "party": party,
            "recipients": comms_selectors.default_recipients(
                incident, audience=audience, channel=channel, stage=stage, party=party
            ),
            "subject": subject.format(ref=incident.reference, title=incident.title)
            if channel == "email"
            else "",
            "body": options.get("body")
            or body.format(
                ref=incident.reference,
                title=incident.title,
                summary=incident.customer_summary,
                fix=incident.fix_summary,
                party=party.name if party else "",
                ask=incident.partner_action_details or incident.vendor_action_details,
            ),
            "send_after": now + dt.timedelta(minutes=send_in) if send_in else None,
            "template_version": None,
        }

    def _step_send(self, incident, users, options, *, now):
        from comms import services as comms_services
        from comms.models import Message

        message = comms_services.send_message(
            incident=incident,
            actor=users[incident.owner.username if incident.owner else "agent"],
            **self._message_fields(incident, options, now),
        )
        if message.status == Message.Status.QUEUED:
            comms_services.deliver_message(message_id=message.pk)

    def _step_draft(self, incident, users, options, *, now):
        from comms import services as comms_services

        comms_services.save_draft(
            incident=incident,
            actor=users["agent"],
            **self._message_fields(incident, options, now),
        )

    def _step_reject(self, incident, users, options, **_):
        from comms import services as comms_services
        from comms.models import Message

        comms_services.reject_message(
            message=incident.messages.filter(
                status=Message.Status.AWAITING_APPROVAL
            ).latest("created_at"),
            actor=users["manager"],
            reason=options["reason"],
        )

    def _step_fail(self, incident, users, options, *, now):
        """Send a message whose delivery gave up: no channel fails on demand,
        so the failure is written as the delivery task would write it."""
        from comms import services as comms_services
        from comms.models import Message

        error = options.pop("error")
        message = comms_services.send_message(
            incident=incident,
            actor=users["agent"],
            **self._message_fields(incident, options, now),
        )
        attempts = settings.COMMS_MAX_ATTEMPTS
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED,
            attempts=attempts,
            last_error=error,
            next_attempt_at=None,
        )
        services.record_timeline_event(
            incident=incident,
            kind=TimelineEvent.Kind.MESSAGE_FAILED,
            actor=None,
            details={
                "message": message.pk,
                "audience": message.audience,
                "channel": message.channel,
                "subject": message.subject,
                "error": error,
                "attempts": attempts,
            },
        )

    def _step_reply(self, incident, users, options, **_):
        from comms import services as comms_services
        from comms.models import ExternalParty

        party = options.pop("party", None)
        comms_services.log_reply(
            incident=incident,
            actor=users["agent"],
            party=ExternalParty.objects.get(name=party) if party else None,
            **options,
        )

    # --- Credits and refunds ------------------------------------------------
    # (story slug, requester, kind, amount, reason, decided by or None)
    DEMO_CREDITS = [
        (
            "refund-stuck",
            "agent2",
            "refund",
            Decimal("129.00"),
            "The processor held the refund for three days; the customer paid "
            "twice meanwhile. Refund the duplicate charge.",
            None,
        ),
        (
            "esim-provisioning",
            "agent",
            "service_credit",
            Decimal("250.00"),
            "Without service for most of a day on a business line; goodwill "
            "per the playbook.",
            "manager",
        ),
    ]

    def _credits(self, users):
        """Ask for a refund awaiting a decision and an approved service credit."""
        from comms import services as comms_services
        from comms.models import Message
        from escalations import services as credit_services
        from escalations.models import CreditRequest

        quiet = {name: "comms.channels.NoteChannel" for name in Channel.values}
        for slug, requester, kind, amount, reason, decider in self.DEMO_CREDITS:
            incident = Incident.objects.filter(
                tags__icontains=f'"{DEMO_TAG_PREFIX}{slug}"'
            ).first()
            if (
                incident is None
                or CreditRequest.objects.filter(incident=incident).exists()
            ):
                continue
            with override_settings(COMMS_CHANNEL_BACKENDS=quiet), transaction.atomic():
                credit = credit_services.request_credit(
                    incident=incident,
                    actor=users[requester],
                    kind=kind,
                    amount=amount,
                    currency="USD",
                    reason=reason,
                )
                if decider is None:
                    continue
                credit = credit_services.approve_credit(
                    credit=credit, actor=users[decider]
                )
                message = credit.customer_message
                if message and message.status == Message.Status.QUEUED:
                    comms_services.deliver_message(message_id=message.pk)

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
                insert_rows(Customer, batch)
                batch = []
                self.stdout.write(f"Customers: {n + 1}", ending="\r")
        insert_rows(Customer, batch)
        self.stdout.write(f"Customers: {Customer.objects.count()}")

    def _bulk_incidents(self, count, users):
        existing = Incident.objects.count()
        if existing >= count:
            return
        policy = Policy.objects.select_related("calendar").get(is_default=True)
        targets = {t.priority: t for t in policy.targets.all()}
        working_days = sla.WorkingDays.of(policy.calendar)
        categories = list(selectors.categories_offered(policy))
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
                insert_rows(Incident, batch)
                insert_rows(
                    TimelineEvent,
                    [
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
                        for incident in batch
                    ],
                )
            remaining -= size
            self.stdout.write(f"Incidents: {count - remaining}", ending="\r")
        self.stdout.write("")

    # --- Post-mortems, communication plan, security response ---

    def _demo_incident(self, slug):
        return (
            Incident.objects.filter(tags__icontains=f'"{DEMO_TAG_PREFIX}{slug}"')
            .order_by("pk")
            .first()
        )

    def _learning(self, users):
        """Give the card-payments P1 a post-mortem and a plan, and run the
        SMS-codes P1 as a security incident (idempotent)."""
        from comms.plans import plan_prefill
        from incidents.models import CommunicationPlan, PostMortem, SecurityResponse

        payments = self._demo_incident("card-payments-failing")
        if (
            payments is not None
            and not PostMortem.objects.filter(incident=payments).exists()
        ):
            postmortem = services.start_postmortem(
                incident=payments,
                actor=users["senior"],
                scheduled_on=timezone.localdate() + dt.timedelta(days=1),
            )
            services.edit_postmortem(
                postmortem=postmortem,
                actor=users["senior"],
                scheduled_on=postmortem.scheduled_on,
                attendees="Support (Sam Senior), Payments team, Gateway vendor",
                summary="The payment gateway rejected card payments after a "
                "certificate rotation; checkout failed for many customers.",
                went_well="Signal detected it before most customers wrote in.\n"
                "The vendor answered within the hour.",
                went_wrong="No alert on the gateway's certificate expiry.\n"
                "Customer updates slipped past their cadence once.",
            )
            # Agreed with a deadline three days ago: overdue on the agent's
            # home page (a deadline in the past is refused today).
            with time_machine.travel(
                timezone.now() - dt.timedelta(days=10), tick=False
            ):
                services.add_postmortem_action(
                    postmortem=postmortem,
                    actor=users["senior"],
                    what="Alert two weeks before any gateway certificate expires",
                    kind="monitoring",
                    owner=users["agent"],
                    deadline_on=timezone.localdate() + dt.timedelta(days=7),
                )
            services.add_postmortem_action(
                postmortem=postmortem,
                actor=users["senior"],
                what="Add certificate rotation to the vendor change checklist",
                kind="process",
                owner=users["senior"],
                deadline_on=timezone.localdate() + dt.timedelta(days=30),
            )
        if (
            payments is not None
            and not CommunicationPlan.objects.filter(incident=payments).exists()
        ):
            services.start_communication_plan(
                incident=payments,
                actor=users["senior"],
                prefill=plan_prefill(payments),
            )
        sms = self._demo_incident("sms-codes-missing")
        if (
            sms is not None
            and not SecurityResponse.objects.filter(incident=sms).exists()
        ):
            response = services.flag_security_incident(
                incident=sms, actor=users["senior"], incident_type="account_compromise"
            )
            first = response.notifications.order_by("position").first()
            services.record_security_notification(
                notification=first, actor=users["senior"], how="Phone"
            )
