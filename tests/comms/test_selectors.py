import pytest

from comms.library import LIBRARY
from comms.models import Audience, ExternalParty, MessageTemplate
from comms.selectors import template_for
from comms.services import check_template_source
from incidents.models import Priority
from tests.factories import IncidentFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "key"),
    [
        (1, "customer-follow-up-1"),
        (2, "customer-follow-up-2"),
        (3, "customer-follow-up-3"),
        (4, "customer-follow-up-4"),
        (9, "customer-follow-up-4"),
    ],
)
def test_template_for_follow_up_tone_rises_with_the_number(number, key):
    incident = IncidentFactory()

    chosen = template_for(
        stage="follow_up",
        audience="customer",
        channel="email",
        incident=incident,
        follow_up_number=number,
    )

    assert chosen.key == key


@pytest.mark.django_db
@pytest.mark.parametrize("audience", ["internal", "partner", "vendor"])
def test_every_audience_has_a_tone_for_each_follow_up(audience):
    incident = IncidentFactory()

    keys = {
        template_for(
            stage="follow_up",
            audience=audience,
            channel="chat" if audience == "internal" else "email",
            incident=incident,
            follow_up_number=n,
        ).key
        for n in (1, 2, 3, 4)
    }

    assert len(keys) == 4


@pytest.mark.django_db
def test_template_for_prefers_the_situation_and_priority_specific_text():
    critical = IncidentFactory(priority=Priority.P1)
    low = IncidentFactory(priority=Priority.P4)

    def key(incident, situation=""):
        return template_for(
            stage="creation",
            audience="customer",
            channel="email",
            incident=incident,
            situation=situation,
        ).key

    assert key(critical) == "customer-initial-critical"
    assert key(low) == "customer-initial"
    assert key(low, "proactive") == "customer-initial-proactive"


@pytest.mark.django_db
def test_template_for_skips_inactive_templates():
    incident = IncidentFactory(priority=Priority.P1)
    MessageTemplate.objects.filter(key="customer-initial-critical").update(
        is_active=False
    )

    chosen = template_for(
        stage="creation", audience="customer", channel="email", incident=incident
    )

    assert chosen.key == "customer-initial"


@pytest.mark.django_db
def test_template_for_returns_none_when_nothing_fits():
    incident = IncidentFactory()

    assert (
        template_for(
            stage="closure", audience="vendor", channel="chat", incident=incident
        )
        is None
    )


def test_the_default_library_covers_every_audience_and_passes_validation():
    assert {entry["audience"] for entry in LIBRARY} == set(Audience.values)
    for entry in LIBRARY:
        check_template_source(
            subject=entry["subject"], body=entry["body"], audience=entry["audience"]
        )


@pytest.mark.django_db
@pytest.mark.parametrize("priority", Priority.values)
def test_every_default_template_renders_against_real_incidents(priority, agent):
    from comms.catalogue import incident_context
    from comms.rendering import render
    from incidents import services as incident_services
    from tests.factories import CustomerFactory

    single = IncidentFactory(priority=priority, owner=agent)
    systemic = IncidentFactory(priority=priority, customer=None, is_systemic=True)
    incident_services.add_affected_customer(
        incident=systemic, actor=agent, customer=CustomerFactory()
    )

    for incident in (single, systemic):
        for template in MessageTemplate.objects.select_related("current_version"):
            context = incident_context(
                incident,
                audience=template.audience,
                reader_zone="Europe/Berlin",
                sender_name="Alex",
                follow_up_number=2,
                party=ExternalParty(name="ConnectX", account_ref="CX-1", ack_hours=4),
            )
            version = template.current_version
            rendered = render(version.subject, version.body, context)
            assert rendered.body.strip(), template.key
            assert "{{" not in rendered.body + rendered.subject, template.key
            if (template.audience, template.channel) == ("customer", "email") and (
                incident.customer
            ):
                first_name = incident.customer.name.split()[0]
                assert first_name in rendered.body, template.key
