import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from incidents import selectors, services
from incidents.models import Category, Customer, Incident, Priority, Segment


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    account_id = factory.Sequence(lambda n: f"ACC-T{n:05d}")
    segment = Segment.STANDARD


def category_of(customer: Customer | None) -> Category:
    """eSIM where the customer's policy offers it, else its first category."""
    offered = selectors.categories_offered(services.policy_for(customer))
    return offered.filter(slug="esim").first() or offered.first()


class IncidentFactory(factory.django.DjangoModelFactory):
    """Opens incidents through the service, so deadlines and timeline are real."""

    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Test incident {n}")
    priority = Priority.P3
    category = factory.LazyAttribute(lambda o: category_of(o.customer))
    customer = factory.SubFactory(CustomerFactory)
    what_happened = "Something broke for a customer."
    actor = None

    @classmethod
    def _create(cls, model_class, *args, actor=None, status=None, **kwargs):
        incident = services.open_incident(actor=actor, **kwargs)
        if status and status != Incident.Status.NEW:
            incident = _walk_to(incident, status)
        return incident


# Paths through the status machine used to reach a status in tests.
_PATHS = {
    Incident.Status.INVESTIGATING: ["investigating"],
    Incident.Status.WAITING_PARTNER: ["investigating", "waiting_partner"],
    Incident.Status.WAITING_VENDOR: ["investigating", "waiting_vendor"],
    Incident.Status.WAITING_CUSTOMER: ["investigating", "waiting_customer"],
    Incident.Status.FIX_IN_PROGRESS: ["investigating", "fix_in_progress"],
    Incident.Status.MONITORING: ["investigating", "monitoring"],
    Incident.Status.RESOLVED: ["investigating", "resolved"],
    Incident.Status.CLOSED: ["investigating", "resolved", "closed"],
    Incident.Status.CLOSED_PENDING: [
        "investigating",
        "waiting_customer",
        "closed_pending",
    ],
}


def _walk_to(incident, status):
    for step in _PATHS[status]:
        if step in Incident.CLOSED_STATUSES:
            settle_checklists(incident)  # the close guard would refuse
        incident = services.move_incident(incident=incident, actor=None, to_status=step)
    return incident


def message_fields(incident, **overrides) -> dict:
    """Return a customer follow-up e-mail's fields; override any of them."""
    fields = {
        "audience": "customer",
        "channel": "email",
        "stage": "follow_up",
        "situation": "",
        "follow_up_number": 1,
        "party": None,
        "recipients": [
            incident.customer.email if incident.customer else "x@example.com"
        ],
        "subject": f"Update on {incident.reference}",
        "body": "We are still on it.",
        "send_after": None,
        "template_version": None,
    }
    return {**fields, **overrides}


def send_test_message(incident, actor, **overrides):
    """Send a customer follow-up e-mail through the service; override any field."""
    from comms import services as comms_services

    return comms_services.send_message(
        incident=incident, actor=actor, **message_fields(incident, **overrides)
    )


def save_test_draft(incident, actor, **overrides):
    """Save a customer follow-up e-mail as a draft; override any field."""
    from comms import services as comms_services

    return comms_services.save_draft(
        incident=incident, actor=actor, **message_fields(incident, **overrides)
    )


# --- Closure checklists ---


def settle_checklists(incident):
    """Attach the incident's checklists and mark every open item done.

    For tests that need a closed incident and care nothing for its
    checklist; tests of the checklist itself work its items one by one.
    """
    import datetime as dt

    from django.utils import timezone

    from incidents.models import IncidentChecklistItem

    if incident.status not in Incident.CLOSED_STATUSES:
        services.refresh_checklists(incident=incident, actor=None)
    IncidentChecklistItem.objects.filter(
        checklist__incident=incident, state="open"
    ).update(
        state="done",
        settled_at=timezone.now() - dt.timedelta(seconds=1),
        evidence_text="Settled by the test factory",
    )
    return incident


class ChecklistTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "incidents.ChecklistTemplate"

    name = factory.Sequence(lambda n: f"Test checklist {n}")
    policy = None
    condition = "always"
    attaches_on_resolve = True


class ChecklistTemplateItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "incidents.ChecklistTemplateItem"

    template = factory.SubFactory(ChecklistTemplateFactory)
    group = "Checks"
    text = factory.Sequence(lambda n: f"Check {n}")
    condition = "always"
    evidence = "none"
    position = factory.Sequence(lambda n: n)


# --- Credits and refunds ----------------------------------------------------


def request_test_credit(incident, actor, **overrides):
    """Ask for a credit on ``incident`` through the service; override any field."""
    from escalations import services as escalation_services

    fields = {
        "kind": "refund",
        "amount": "250.00",
        "currency": "USD",
        "reason": "Charged twice for the same month.",
    }
    return escalation_services.request_credit(
        incident=incident, actor=actor, **{**fields, **overrides}
    )


# --- Post-mortems -----------------------------------------------------------


def publishable_postmortem(actor, *, summary="The partner's renewals failed."):
    """Start a P1 incident's post-mortem and fill what publishing needs."""
    import datetime as dt

    from django.utils import timezone

    postmortem = services.start_postmortem(
        incident=IncidentFactory(priority=Priority.P1), actor=actor
    )
    services.edit_postmortem(
        postmortem=postmortem,
        actor=actor,
        scheduled_on=timezone.localdate(),
        attendees="Support, Partner team",
        summary=summary,
        went_well="Detected within minutes.",
        went_wrong="The partner took hours to answer.",
    )
    services.add_postmortem_action(
        postmortem=postmortem,
        actor=actor,
        what="Alert when renewals fail",
        kind="monitoring",
        owner=actor,
        deadline_on=timezone.localdate() + dt.timedelta(days=14),
    )
    return postmortem


# --- Communication plans ----------------------------------------------------


def start_test_plan(incident, actor):
    """Start the incident's communication plan, prefilled as the page does."""
    from comms.plans import plan_prefill

    return services.start_communication_plan(
        incident=incident, actor=actor, prefill=plan_prefill(incident)
    )


# --- Automation: follow-up loops, inbound mail, signals ---


class ExternalPartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "comms.ExternalParty"
        django_get_or_create = ["name"]

    kind = "partner"
    name = factory.Sequence(lambda n: f"Carrier {n}")
    support_email = factory.Sequence(lambda n: f"support{n}@carrier.example")
    escalation_email = factory.Sequence(lambda n: f"escalations{n}@carrier.example")
    domains = "carrier.example"


def partner_p1_incident(**overrides):
    """A P1 incident that needs a partner to act (its loop opens once the
    partner is written to)."""
    return IncidentFactory(
        priority="P1",
        is_partner_action_needed=True,
        partner_action_details="Check provisioning.",
        **overrides,
    )


def notify_party(incident, party, actor=None):
    """Send the partner's first notification, which starts its follow-ups."""
    return send_test_message(
        incident,
        actor,
        audience=party.kind,
        stage="creation",
        follow_up_number=None,
        party=party,
        recipients=[party.support_email],
        subject=f"Incident {incident.reference}: please investigate",
        body="Please look into this.",
    )


def monitoring_token(name="Monitoring", **fields):
    """Create a monitoring integration and return (integration, token)."""
    from comms import services as comms_services
    from comms.models import MonitoringIntegration

    integration = MonitoringIntegration(name=name, **fields)
    token = comms_services.monitoring.issue_integration_token(integration=integration)
    return integration, token


# --- Escalations ------------------------------------------------------------


def escalation_note(**overrides) -> dict:
    """Return a complete generic escalation note; override any field."""
    return {
        "summary": "Port-in keeps failing for the customer.",
        "customer_wants": "Their number working on the new line.",
        "tried": "Resubmitted the port → rejected again.",
        "why": "Needs someone with more access.",
        "recommended_resolution": "Ask the carrier to release the number.",
        "urgency": "high",
        "sentiment": "frustrated",
        **overrides,
    }


def confirmed_checks(policy) -> dict:
    """Return every pre-escalation check of ``policy`` as confirmed."""
    from escalations.models import PreEscalationCheck

    return {
        pk: True
        for pk in PreEscalationCheck.objects.filter(policy=policy).values_list(
            "pk", flat=True
        )
    }


def request_test_escalation(incident, actor, *, tier_key="l2", path="l2", **kw):
    """Escalate ``incident`` to its policy's tier ``tier_key`` with a full note."""
    from escalations import services as escalation_services
    from escalations.models import Tier

    tier = Tier.objects.get(policy=incident.policy, key=tier_key)
    return escalation_services.request_escalation(
        incident=incident,
        actor=actor,
        path=path,
        tiers=[tier],
        note=kw.pop("note", escalation_note()),
        checks=kw.pop("checks", confirmed_checks(incident.policy)),
        **kw,
    )
