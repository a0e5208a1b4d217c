"""The satisfaction survey: a signed, single-use link in the resolution e-mail."""

import datetime as dt

import pytest
from django.urls import reverse

from comms.catalogue import incident_context
from incidents.models import SurveyResponse, TimelineEvent
from incidents.surveys import survey_path, survey_token
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(frozen_now):
    return IncidentFactory(status="resolved")


def _url(incident):
    return survey_path(incident_id=incident.pk, customer_id=incident.customer_id)


def test_a_customer_answers_without_signing_in(client, incident):
    page = client.get(_url(incident))
    assert page.status_code == 200
    assert "How did we do?" in page.content.decode()
    response = client.post(_url(incident), {"score": "4", "comment": "Quick fix."})
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    answer = SurveyResponse.objects.get()
    assert (answer.incident, answer.customer, answer.score) == (
        incident,
        incident.customer,
        4,
    )
    assert answer.comment == "Quick fix."
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.SURVEY_ANSWERED
    ).exists()


def test_the_page_speaks_as_our_team_about_the_customers_own_issue(
    client, settings, frozen_now
):
    settings.SUPPORT_TEAM_NAME = "Meow Support"
    incident = IncidentFactory(
        status="resolved",
        customer_summary="Your new eSIM would not activate.",
        what_happened="INTERNAL-NARRATIVE the provisioning queue stalled",
    )

    page = client.get(_url(incident)).content.decode()

    assert "Switchboard" not in page
    assert "Meow Support" in page
    assert f"{incident.reference}</strong>: Your new eSIM would not activate." in page
    assert "INTERNAL-NARRATIVE" not in page


def test_a_link_answers_once(client, incident):
    client.post(_url(incident), {"score": "5"})
    again = client.post(_url(incident), {"score": "1"})
    assert again.status_code == 409
    assert "already been answered" in again.content.decode()
    assert list(SurveyResponse.objects.values_list("score", flat=True)) == [5]


def test_opening_an_answered_link_again_says_so_instead_of_a_blank_form(
    client, incident
):
    client.post(_url(incident), {"score": "5"})

    page = client.get(_url(incident)).content.decode()

    assert "already been answered" in page
    assert "How did we do?" not in page


def test_the_incident_page_shows_the_score_and_the_comment(
    client, incident, agent_client
):
    client.post(
        _url(incident), {"score": "2", "resolution_score": "1", "comment": "Slow."}
    )

    page = agent_client.get(incident.get_absolute_url()).content.decode()

    entry = page[page.index("Satisfaction survey answered") :][:800]
    assert "2 of 5" in entry
    assert "resolution 1" in entry
    assert "“Slow.”" in entry


def test_a_forged_or_altered_link_is_refused(client, incident):
    token = survey_token(incident_id=incident.pk, customer_id=incident.customer_id)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for url in (
        reverse("survey", args=[forged]),
        reverse("survey", args=["not-a-token"]),
    ):
        assert client.get(url).status_code == 404
        assert client.post(url, {"score": "5"}).status_code == 404
    assert not SurveyResponse.objects.exists()


def test_an_expired_link_is_refused(client, incident, time_machine, settings):
    url = _url(incident)
    time_machine.shift(dt.timedelta(days=settings.SURVEY_LINK_MAX_AGE_DAYS + 1))
    assert client.post(url, {"score": "5"}).status_code == 404
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize("score", ["0", "6", "-1", "five", ""])
def test_a_score_out_of_range_is_refused_on_the_form(client, incident, score):
    response = client.post(_url(incident), {"score": score})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode() or (
        "This field is required" in response.content.decode()
    )
    assert not SurveyResponse.objects.exists()


def test_the_customer_resolution_email_carries_the_link(incident):
    context = incident_context(incident, audience="customer", base_url="https://x.test")
    assert context["survey"]["url"].startswith("https://x.test/survey/")


def test_staff_and_systemic_messages_carry_no_link(frozen_now):
    single = IncidentFactory()
    assert incident_context(single, audience="internal")["survey"]["url"] == ""
    systemic = IncidentFactory(customer=None, is_systemic=True)
    assert incident_context(systemic, audience="customer")["survey"]["url"] == ""


def test_the_page_and_the_mail_use_the_team_an_admin_named_on_the_policy(
    client, admin_client, frozen_now
):
    from incidents.models import Policy
    from tests.factories import CustomerFactory

    fleet = Policy.objects.get(name="Fleet SaaS")
    assert fleet.team_name == "Fleet Support"  # shipped
    admin_page = admin_client.get(
        reverse("admin:incidents_policy_change", args=[fleet.pk])
    ).content.decode()
    assert 'name="team_name"' in admin_page
    Policy.objects.filter(pk=fleet.pk).update(team_name="Fleetwise Care")
    incident = IncidentFactory(
        status="resolved", customer=CustomerFactory(policy=fleet)
    )

    page = client.get(_url(incident)).content.decode()
    context = incident_context(incident, audience="customer")

    assert "Fleetwise Care" in page
    assert context["support"]["team"] == "Fleetwise Care"
    assert context["sender"]["name"] == "The Fleetwise Care team"
