"""The admin forms speak in hours, weekdays and zone names, and keep a default."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents import services
from incidents.admin_forms import format_duration, parse_duration
from incidents.models import BusinessCalendar, Customer, Policy, StaffProfile
from tests.factories import CustomerFactory


def admin_post_data(response) -> dict:
    """Return what the admin page in ``response`` would post unchanged."""
    data = {}

    def add(form):
        for bound in form:
            value = bound.value()
            if isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[bound.html_name] = list(value)
            else:
                data[bound.html_name] = "" if value is None else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for form in formset.forms:
            add(form)
    return data


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def carrier():
    return Policy.objects.get(name="Carrier playbook")


def _target_index(data, priority):
    return next(
        key.split("-")[1]
        for key, value in data.items()
        if key.startswith("targets-")
        and key.endswith("-priority")
        and value == priority
    )


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("30 min", 30),
        ("90m", 90),
        ("2h", 120),
        ("1h 30m", 90),
        ("1 h 30 min", 90),
        ("1 hour and 30 minutes", 90),
        ("1.5 h", 90),
        ("1:30", 90),
        ("1 day", 1440),
        ("1 d 2 h", 1560),
        ("5 days", 7200),
        ("1 week", 10080),
        ("0 min", 0),
    ],
)
def test_parse_duration_reads_units(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("90", "duration_unit_missing"),
        ("4.5", "duration_unit_missing"),
        ("5 parsecs", "duration_invalid"),
        ("2 h 3 h", "duration_invalid"),
        ("h", "duration_invalid"),
        ("1.005 h", "duration_fraction"),
        ("9" * 500 + " h", "duration_invalid"),
    ],
)
def test_parse_duration_refuses_unclear_text(text, code):
    with pytest.raises(ValidationError) as exc_info:
        parse_duration(text)

    assert exc_info.value.code == code


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(30, "30 min"), (240, "4 h"), (90, "1 h 30 min"), (1560, "1 d 2 h"), (0, "0 min")],
)
def test_format_duration_uses_the_largest_units(minutes, text):
    assert format_duration(minutes) == text


@pytest.mark.django_db
def test_policy_page_shows_durations_with_units(admin_client, carrier):
    change = admin_client.get(
        reverse("admin:incidents_policy_change", args=[carrier.pk])
    )
    listing = admin_client.get(reverse("admin:incidents_policy_changelist"))

    page = change.content.decode()
    assert 'value="30 min"' in page  # P1 first response
    assert 'value="4 h"' in page  # P1 resolution
    assert 'value="2 h"' in page  # the at-risk window
    assert "Customer updates every" in page
    assert "P1 30 min / 4 h" in listing.content.decode()
    assert "P4 1 d / 5 business days" in listing.content.decode()


@pytest.mark.django_db
def test_policy_targets_are_stacked_with_cadences_grouped(admin_client, carrier):
    response = admin_client.get(
        reverse("admin:incidents_policy_change", args=[carrier.pk])
    )

    page = response.content.decode()
    assert 'id="targets-group"\n     data-inline-type="stacked"' in page
    assert "Updates and escalation" in page


@pytest.mark.django_db
def test_admin_saves_durations_typed_with_units(admin_client, carrier):
    url = reverse("admin:incidents_policy_change", args=[carrier.pk])
    data = admin_post_data(admin_client.get(url))
    n = _target_index(data, "P1")
    data[f"targets-{n}-first_response_minutes"] = "20 min"
    data[f"targets-{n}-customer_update_minutes"] = "1 h 30 min"
    data[f"targets-{n}-resolution_at_risk_minutes"] = "1:15"
    data["at_risk_minutes"] = "3 h"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    target = carrier.targets.get(priority="P1")
    assert target.first_response_minutes == 20
    assert target.customer_update_minutes == 90
    assert target.resolution_at_risk_minutes == 75
    carrier.refresh_from_db()
    assert carrier.at_risk_minutes == 180


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("90", "Add a unit: “90 h” or “90 min”."),
        ("soon", "“soon” is not a duration; write it like 30 min"),
        ("400 d", "At most 365 days."),
        ("0 min", "At least 1 min."),
    ],
)
def test_admin_refuses_unclear_durations_with_a_message(
    admin_client, carrier, typed, message
):
    url = reverse("admin:incidents_policy_change", args=[carrier.pk])
    data = admin_post_data(admin_client.get(url))
    n = _target_index(data, "P1")
    data[f"targets-{n}-first_response_minutes"] = typed

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert carrier.targets.get(priority="P1").first_response_minutes == 30


@pytest.mark.django_db
def test_admin_still_refuses_both_resolution_units(admin_client, carrier):
    url = reverse("admin:incidents_policy_change", args=[carrier.pk])
    data = admin_post_data(admin_client.get(url))
    n = _target_index(data, "P1")
    data[f"targets-{n}-resolution_business_days"] = "2"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "either in minutes or in business days" in response.content.decode()


@pytest.mark.django_db
def test_calendar_working_days_are_checkboxes(admin_client):
    calendar = BusinessCalendar.objects.first()
    url = reverse("admin:incidents_businesscalendar_change", args=[calendar.pk])
    page = admin_client.get(url)
    data = admin_post_data(page)
    data["working_weekdays"] = ["6", "1", "2", "3", "4", "5"]

    response = admin_client.post(url, data)

    html = page.content.decode()
    assert 'type="checkbox" name="working_weekdays" value="1"' in html
    assert "Sunday" in html
    assert response.status_code == 302
    calendar.refresh_from_db()
    assert calendar.working_weekdays == "123456"


@pytest.mark.django_db
def test_calendar_needs_a_working_day(admin_client):
    calendar = BusinessCalendar.objects.first()
    url = reverse("admin:incidents_businesscalendar_change", args=[calendar.pk])
    data = admin_post_data(admin_client.get(url))
    del data["working_weekdays"]

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "Tick at least one working day." in response.content.decode()


@pytest.mark.django_db
def test_calendar_list_names_the_working_days(admin_client):
    response = admin_client.get(reverse("admin:incidents_businesscalendar_changelist"))

    assert "Monday to Friday" in response.content.decode()


@pytest.mark.django_db
def test_time_zones_are_a_searchable_select(admin_client):
    customer = CustomerFactory(time_zone="Asia/Kolkata")

    response = admin_client.get(
        reverse("admin:incidents_customer_change", args=[customer.pk])
    )

    html = response.content.decode()
    assert 'data-filter="Type to filter zones' in html
    assert '<option value="Asia/Kolkata" selected>' in html
    assert '<option value="Europe/Berlin">' in html
    assert "js/admin-filter.js" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "stored"),
    [("Europe/Berlin", "Europe/Berlin"), ("", "")],
)
def test_customer_zone_is_picked_or_left_empty(admin_client, zone, stored):
    customer = CustomerFactory(time_zone="Asia/Kolkata")
    url = reverse("admin:incidents_customer_change", args=[customer.pk])
    data = admin_post_data(admin_client.get(url))
    data["time_zone"] = zone

    response = admin_client.post(url, data)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.time_zone == stored


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("page", "model"),
    [
        ("admin:incidents_customer_change", Customer),
        ("admin:incidents_businesscalendar_change", BusinessCalendar),
        ("admin:incidents_staffprofile_change", StaffProfile),
    ],
)
def test_unknown_time_zone_is_refused_with_a_message(
    admin_client, admin_user, page, model
):
    CustomerFactory()
    StaffProfile.objects.create(user=admin_user, time_zone="UTC")
    obj = model.objects.first()
    url = reverse(page, args=[obj.pk])
    data = admin_post_data(admin_client.get(url))
    data["time_zone"] = "Mars/Olympus_Mons"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "“Mars/Olympus_Mons” is not a time zone in the list" in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_calendar_zone_cannot_be_left_empty(admin_client):
    calendar = BusinessCalendar.objects.first()
    url = reverse("admin:incidents_businesscalendar_change", args=[calendar.pk])
    data = admin_post_data(admin_client.get(url))
    data["time_zone"] = ""

    response = admin_client.post(url, data)

    assert response.status_code == 200
    calendar.refresh_from_db()
    assert calendar.time_zone == "UTC"


@pytest.mark.django_db
def test_unticking_the_default_policy_is_refused(admin_client, carrier):
    url = reverse("admin:incidents_policy_change", args=[carrier.pk])
    data = admin_post_data(admin_client.get(url))
    del data["make_default"]

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "Make another policy the default instead." in response.content.decode()
    carrier.refresh_from_db()
    assert carrier.is_default


@pytest.mark.django_db
def test_ticking_another_policy_moves_the_default(admin_client, carrier):
    fleet = Policy.objects.get(name="Fleet SaaS")
    url = reverse("admin:incidents_policy_change", args=[fleet.pk])
    data = admin_post_data(admin_client.get(url))
    data["make_default"] = "on"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert list(Policy.objects.filter(is_default=True)) == [fleet]


@pytest.mark.django_db
def test_a_new_policy_can_be_made_the_default_when_added(admin_client, carrier):
    url = reverse("admin:incidents_policy_add")
    data = admin_post_data(admin_client.get(url))
    data.update({"name": "Premium", "calendar": carrier.calendar_id})
    data["make_default"] = "on"

    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert list(Policy.objects.filter(is_default=True)) == [
        Policy.objects.get(name="Premium")
    ]


@pytest.mark.django_db
def test_make_default_action_moves_the_flag(admin_client, carrier):
    fleet = Policy.objects.get(name="Fleet SaaS")

    admin_client.post(
        reverse("admin:incidents_policy_changelist"),
        {"action": "make_default_policy", "_selected_action": [fleet.pk]},
    )

    assert list(Policy.objects.filter(is_default=True)) == [fleet]


@pytest.mark.django_db
def test_default_policy_cannot_be_deleted(admin_client, carrier):
    response = admin_client.get(
        reverse("admin:incidents_policy_delete", args=[carrier.pk])
    )

    assert response.status_code == 403


@pytest.mark.django_db
def test_choose_default_policy_moves_the_flag_in_one_step(carrier):
    agency = Policy.objects.exclude(pk=carrier.pk).first()

    services.choose_default_policy(policy=agency)

    assert list(Policy.objects.filter(is_default=True)) == [agency]


@pytest.mark.django_db
def test_model_refuses_unsetting_the_only_default(carrier):
    carrier.is_default = False

    with pytest.raises(ValidationError) as exc_info:
        carrier.full_clean()

    assert exc_info.value.error_dict["is_default"][0].code == "default_required"


@pytest.mark.django_db
def test_model_allows_unsetting_a_default_that_moved(carrier):
    other = Policy.objects.exclude(pk=carrier.pk).first()
    services.choose_default_policy(policy=other)
    carrier.refresh_from_db()

    carrier.full_clean()

    assert not carrier.is_default
