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
