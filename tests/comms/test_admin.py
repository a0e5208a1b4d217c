import pytest
from django.urls import reverse

from comms.models import MessageTemplate
from tests.factories import IncidentFactory


@pytest.fixture
def template(db):
    return MessageTemplate.objects.get(key="customer-follow-up-1")


def _form_data(template, **overrides):
    version = template.current_version
    data = {
        "key": template.key,
        "name": template.name,
        "description": template.description,
        "audience": template.audience,
        "channel": template.channel,
        "stage": template.stage,
        "follow_up_from": template.follow_up_from or "",
        "follow_up_to": template.follow_up_to or "",
        "priority": template.priority,
        "category": "",
        "situation": template.situation,
        "is_active": "on",
        "subject": version.subject,
        "body": version.body,
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "1",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_admin_saving_new_wording_makes_a_version(client, admin_user, template):
    client.force_login(admin_user)
    url = reverse("admin:comms_messagetemplate_change", args=[template.pk])

    response = client.post(url, _form_data(template, body="Hi {{ customer.name }}"))

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.current_version.number == 2
    assert template.current_version.body == "Hi {{ customer.name }}"
    assert template.current_version.created_by == admin_user


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Hi {% if %}", "Line 1"),
        ("Hi\n{{ customer.nam }}", "Line 2: “customer.nam” is not in the"),
        ("{{ ''.__class__ }}", "Not allowed in templates"),
    ],
)
def test_admin_refuses_bad_wording_with_the_reason(
    client, admin_user, template, body, message
):
    client.force_login(admin_user)
    url = reverse("admin:comms_messagetemplate_change", args=[template.pk])

    response = client.post(url, _form_data(template, body=body))

    assert response.status_code == 200
    assert message in response.content.decode()
    template.refresh_from_db()
    assert template.current_version.number == 1


@pytest.mark.django_db
def test_admin_change_page_lists_the_variable_catalogue(client, admin_user, template):
    client.force_login(admin_user)

    response = client.get(
        reverse("admin:comms_messagetemplate_change", args=[template.pk])
    )

    body = response.content.decode()
    assert "sla.resolution_due" in body
    assert "History" in body


@pytest.mark.django_db
def test_admin_diff_between_versions(client, admin_user, template):
    client.force_login(admin_user)
    url = reverse("admin:comms_messagetemplate_change", args=[template.pk])
    client.post(url, _form_data(template, body="Brand new line {{ incident.title }}"))

    response = client.get(
        reverse("admin:comms_messagetemplate_diff", args=[template.pk]),
        {"a": 1, "b": 2},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Brand" in body  # HtmlDiff writes spaces as &nbsp;
    assert "diff_add" in body or "diff_chg" in body


@pytest.mark.django_db
def test_admin_preview_renders_against_a_chosen_incident(client, admin_user, template):
    incident = IncidentFactory(title="Router on fire")
    client.force_login(admin_user)
    url = reverse("admin:comms_messagetemplate_preview", args=[template.pk])

    found = client.get(url, {"incident": incident.reference})
    missing = client.get(url, {"incident": "INC-99999"})

    assert incident.customer.name.split()[0] in found.content.decode()
    assert "There is no incident INC-99999" in missing.content.decode()


@pytest.mark.django_db
def test_agents_cannot_edit_templates(client, agent, template):
    client.force_login(agent)

    response = client.get(
        reverse("admin:comms_messagetemplate_change", args=[template.pk])
    )

    assert response.status_code == 403  # told the admin is for administrators


@pytest.mark.django_db
@pytest.mark.parametrize(
    "page",
    [
        "admin:comms_externalparty_changelist",
        "admin:comms_externalparty_add",
        "admin:comms_chatroute_changelist",
        "admin:comms_chatroute_add",
        "admin:comms_deliveryrule_changelist",
        "admin:comms_message_changelist",
        "admin:comms_reply_changelist",
        "admin:comms_messagetemplate_changelist",
        "admin:comms_messagetemplate_add",
    ],
)
def test_comms_admin_pages_open(client, admin_user, page):
    client.force_login(admin_user)

    assert client.get(reverse(page)).status_code == 200


def _preview(client, template, **overrides):
    data = _form_data(template, **overrides)
    return client.post(
        reverse("admin:comms_messagetemplate_preview_wording"), data
    ).content.decode()


@pytest.mark.django_db
def test_change_form_offers_a_preview_of_the_unsaved_wording(
    client, admin_user, template
):
    client.force_login(admin_user)

    page = client.get(
        reverse("admin:comms_messagetemplate_change", args=[template.pk])
    ).content.decode()

    assert 'name="preview_incident"' in page
    assert (
        f'formaction="{reverse("admin:comms_messagetemplate_preview_wording")}"' in page
    )


@pytest.mark.django_db
def test_preview_renders_the_unsaved_wording_without_saving_it(
    client, admin_user, template
):
    incident = IncidentFactory(title="Router on fire")
    client.force_login(admin_user)

    page = _preview(
        client,
        template,
        subject="About {{ incident.reference }}",
        body="Hello {{ customer.name }}, still on it.",
        preview_incident=incident.reference,
    )

    assert f"About {incident.reference}" in page
    assert f"Hello {incident.customer.name}, still on it." in page
    template.refresh_from_db()
    assert template.current_version.number == 1


@pytest.mark.django_db
def test_preview_shows_errors_with_their_line(client, admin_user, template):
    incident = IncidentFactory()
    client.force_login(admin_user)

    page = _preview(
        client,
        template,
        body="Hello\n{{ customer.nam }}",
        preview_incident=incident.reference,
    )

    assert "Line 2: “customer.nam” is not in the" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ("customer", "is internal and never goes to a customer"),
        ("internal", "Cause: a bad cable"),
    ],
)
def test_preview_honours_the_audience_in_the_form(
    client, admin_user, template, audience, expected
):
    incident = IncidentFactory(root_cause="a bad cable")
    client.force_login(admin_user)

    page = _preview(
        client,
        template,
        audience=audience,
        channel="email",
        body="Cause: {{ incident.root_cause }}",
        preview_incident=incident.reference,
    )

    assert expected in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("", "Give an incident number such as INC-00042"),
        ("INC-99999", "There is no incident INC-99999"),
        ("last one", "Give an incident number such as INC-00042"),
    ],
)
def test_preview_says_which_incident_is_missing(
    client, admin_user, template, reference, message
):
    client.force_login(admin_user)

    page = _preview(client, template, preview_incident=reference)

    assert message in page


@pytest.mark.django_db
def test_preview_of_wording_needs_a_post_from_an_admin(client, agent, admin_user):
    url = reverse("admin:comms_messagetemplate_preview_wording")
    client.force_login(admin_user)
    by_get = client.get(url)
    client.force_login(agent)
    by_agent = client.post(url, {"body": "x"})

    assert by_get.status_code == 405
    assert by_agent.status_code == 403  # the admin is for administrators


@pytest.mark.django_db
def test_preview_of_an_internal_note_says_it_goes_to_the_team(
    client, admin_user, template
):
    incident = IncidentFactory()
    client.force_login(admin_user)

    page = _preview(
        client,
        template,
        audience="internal",
        channel="note",
        body="Heads up: {{ incident.title }}",
        preview_incident=incident.reference,
    )

    assert f"Internal note to the team, rendered for {incident.reference}" in page


@pytest.mark.django_db
def test_the_template_history_offers_no_row_to_add(client, admin_user, template):
    # Versions are written by saving the wording; the history only lists them.
    client.force_login(admin_user)

    page = client.get(
        reverse("admin:comms_messagetemplate_change", args=[template.pk])
    ).content.decode()

    assert 'name="versions-MAX_NUM_FORMS" value="0"' in page


@pytest.mark.django_db
def test_a_template_with_a_long_history_still_saves(client, admin_user, template):
    # The page posts one row per version in the history; many are fine.
    client.force_login(admin_user)
    url = reverse("admin:comms_messagetemplate_change", args=[template.pk])

    response = client.post(
        url,
        _form_data(
            template,
            body="Hi again {{ customer.name }}",
            **{"versions-TOTAL_FORMS": "11", "versions-INITIAL_FORMS": "0"},
        ),
    )

    assert response.status_code == 302
