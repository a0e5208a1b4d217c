import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse

from escalations.admin import ReviewActionInline
from escalations.models import EscalationRule, Review, Tier

pytestmark = pytest.mark.django_db

MODELS = [
    "tier",
    "escalationrule",
    "preescalationcheck",
    "escalation",
    "bugreport",
    "escalationfiring",
]


@pytest.mark.parametrize("model", MODELS)
def test_admin_lists_open(client, admin_user, model):
    client.force_login(admin_user)

    response = client.get(reverse(f"admin:escalations_{model}_changelist"))

    assert response.status_code == 200


def test_tier_admin_edits_durations_and_refuses_bad_working_hours(client, admin_user):
    client.force_login(admin_user)
    tier = Tier.objects.get(policy__name="Fleet SaaS", key="tier2")
    url = reverse("admin:escalations_tier_change", args=[tier.pk])
    page = client.get(url)
    assert b"Seeds disagree" in page.content or b"seeds disagree" in page.content

    data = {
        "policy": tier.policy_id,
        "key": tier.key,
        "name": tier.name,
        "position": tier.position,
        "handles": tier.handles,
        "is_active": "on",
        "response_target_minutes": "2 h",
        "response_target_note": "",
        "reminder_minutes": "1 h",
        "working_hours": "Mon-Fri 20:00-06:00",
        "time_zone": "America/Los_Angeles",
        "on_call_contact": "",
        "chat_channel": "",
        "tag": "",
        "default_path": "",
    }
    refused = client.post(url, data)
    data["working_hours"] = "Mon-Fri 06:00-20:00"
    saved = client.post(url, data)

    assert refused.status_code == 200
    assert "ends before it starts" in refused.content.decode()
    assert saved.status_code == 302
    tier.refresh_from_db()
    assert tier.response_target_minutes == 120


def test_shipped_data_counts():
    assert Tier.objects.filter(policy__name="Carrier playbook").count() == 8
    assert (
        Tier.objects.filter(policy__name="Fleet SaaS").count() == 8
    )  # with the Legal team and PR (004 management 5 and 4)
    assert EscalationRule.objects.filter(policy__name="Carrier playbook").count() == 12
    assert EscalationRule.objects.filter(policy__name="Fleet SaaS").count() == 11


@pytest.mark.parametrize("owner", ["abc", "9" * 40])
def test_a_review_action_owner_that_is_no_user_is_a_form_error(rf, admin_user, owner):
    # Django's autocomplete box looked the posted owner up as a key to show it
    # again: a server error on the review's page in place of the form's.
    request = rf.get("/")
    request.user = admin_user
    inline = ReviewActionInline(Review, admin.site)
    field = inline.get_formset(request).form.base_fields["owner"]

    field.widget.render("actions-0-owner", owner)
    with pytest.raises(ValidationError):
        field.clean(owner)
