import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.html import escape

from incidents.models import Category, Incident, Priority, Signal, TimelineEvent
from tests.factories import CustomerFactory, IncidentFactory, UserFactory

ROLES = ["Agent", "Senior agent", "Manager", "VP", "Admin"]


def _form_data(**overrides):
    data = {
        "title": "Port-in stuck",
        "priority": "P2",
        "category": Category.objects.get(slug="port_in").pk,
        "customer": "",
        "service_status": "no_service",
        "sentiment": "frustrated",
        "customer_contact_count": "1",
        "what_happened": "The number transfer is stuck since Monday.",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_every_page_needs_login(client):
    incident = IncidentFactory()

    for url in [
        reverse("incidents:list"),
        reverse("incidents:create"),
        incident.get_absolute_url(),
        reverse("incidents:edit", args=[incident.pk]),
        reverse("incidents:customer_search") + "?q=ac",
        reverse("profile"),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


@pytest.mark.django_db
def test_roles_exist_with_their_permissions():
    for name in ROLES:
        group = Group.objects.get(name=name)
        codenames = set(group.permissions.values_list("codename", flat=True))
        assert {"add_incident", "change_incident_status", "view_incident"} <= codenames


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_open_an_incident(client, role):
    client.force_login(UserFactory(role=role))
    customer = CustomerFactory()

    response = client.post(
        reverse("incidents:create"), _form_data(customer=customer.account_id)
    )

    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response.url == incident.get_absolute_url()


@pytest.mark.django_db
def test_a_user_without_a_role_can_read_but_not_change(client, user_without_role):
    incident = IncidentFactory()
    client.force_login(user_without_role)

    assert client.get(incident.get_absolute_url()).status_code == 200
    assert client.get(reverse("incidents:create")).status_code == 403
    response = client.post(
        reverse("incidents:move", args=[incident.pk]),
        {"to_status": "investigating", "version": 1},
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == Incident.Status.NEW


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed"), [(r, r == "Admin") for r in ROLES] + [(None, False)]
)
def test_only_admins_reach_the_django_admin(client, role, allowed):
    client.force_login(UserFactory(role=role, is_staff=True))

    response = client.get(reverse("admin:index"))

    assert (response.status_code == 200) == allowed


@pytest.mark.django_db
def test_create_incident_form_opens_it_and_says_so(agent_client, agent):
    customer = CustomerFactory()

    response = agent_client.post(
        reverse("incidents:create"),
        _form_data(
            customer=customer.account_id,
            action_1_who="Alex",
            action_1_what="Call the old carrier",
            journey_port_in_state="failed",
        ),
        follow=True,
    )

    incident = Incident.objects.get()
    assert incident.customer == customer
    assert incident.created_by == agent
    assert incident.action_items.get().who == "Alex"
    assert incident.journey_milestones.get().state == "failed"
    assert f"{incident.reference} opened." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"what_happened": ""}, "what_happened", "This field is required."),
        ({"priority": "P9"}, "priority", "Select a valid choice"),
        (
            {"customer": "NOPE-1"},
            "customer",
            "No customer has the name, e-mail or account id",
        ),
        ({"customer": ""}, "customer", "mark the incident as systemic"),
        (
            {"impact_started_at": "2099-01-01T10:00"},
            "impact_started_at",
            "cannot start in the future",
        ),
        ({"impact_started_at": "yesterday"}, "impact_started_at", "valid date/time"),
        ({"customer_contact_count": "-2"}, "customer_contact_count", "greater than"),
        ({"action_1_who": "Alex"}, "action_1_what", "Say what must be done."),
        (
            {"is_engineering_action_needed": "on"},
            "engineering_action_details",
            "Say what the engineering needs to do.",
        ),
    ],
)
def test_create_incident_form_shows_errors_next_to_fields_and_writes_nothing(
    agent_client, overrides, field, message
):
    response = agent_client.post(reverse("incidents:create"), _form_data(**overrides))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert any(message in error for error in errors[field])
    assert not Incident.objects.exists()
    assert not TimelineEvent.objects.exists()


@pytest.mark.django_db
def test_html_in_text_fields_is_shown_escaped(agent_client):
    customer = CustomerFactory()
    agent_client.post(
        reverse("incidents:create"),
        _form_data(
            customer=customer.account_id,
            title="<script>alert(1)</script>",
            what_happened="<b>bold</b> & <img src=x onerror=alert(2)>",
        ),
    )
    incident = Incident.objects.get()

    page = agent_client.get(incident.get_absolute_url()).content.decode()
    listing = agent_client.get(reverse("incidents:list")).content.decode()

    assert "<script>alert(1)</script>" not in page + listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page


@pytest.mark.django_db
def test_edit_form_saves_and_records_changes(agent_client):
    incident = IncidentFactory(title="Old", priority=Priority.P3)
    data = _form_data(
        title="New title",
        priority="P3",
        customer=incident.customer.account_id,
        category=incident.category.pk,
        version=incident.version,
    )

    response = agent_client.post(reverse("incidents:edit", args=[incident.pk]), data)

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "New title"
    assert incident.timeline_events.filter(kind="edited").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("typed", "saved"), [("2500.00", "2500.00"), ("-1", None)])
def test_revenue_impact_is_entered_on_the_edit_form(agent_client, typed, saved):
    incident = IncidentFactory(priority=Priority.P3)
    data = _form_data(
        title=incident.title,
        priority="P3",
        customer=incident.customer.account_id,
        category=incident.category.pk,
        version=incident.version,
        revenue_impact=typed,
    )

    response = agent_client.post(reverse("incidents:edit", args=[incident.pk]), data)

    incident.refresh_from_db()
    if saved is None:
        assert response.status_code == 200  # the form again, with its message
        assert "greater than or equal to 0" in response.content.decode()
        assert incident.revenue_impact is None
    else:
        assert str(incident.revenue_impact) == saved
        page = agent_client.get(incident.get_absolute_url()).content.decode()
        assert f"revenue impact ${saved}" in page


@pytest.mark.django_db
def test_stale_edit_is_refused_with_a_message_and_keeps_the_other_change(
    agent_client, other_agent
):
    incident = IncidentFactory(title="Old")
    page_version = incident.version
    from incidents import services

    services.edit_incident_details(
        incident=incident,
        actor=other_agent,
        expected_version=page_version,
        changes={"title": "Theirs"},
    )
    data = _form_data(
        title="Mine",
        customer=incident.customer.account_id,
        category=incident.category.pk,
        version=page_version,
    )

    response = agent_client.post(reverse("incidents:edit", args=[incident.pk]), data)

    assert response.status_code == 409
    body = response.content.decode()
    assert "changed while you were editing" in body
    assert escape(f"{other_agent.get_full_name()} changed Title") in body
    incident.refresh_from_db()
    assert incident.title == "Theirs"
    # The form shows the current values, with the current version, and lists
    # what this person tried to change so they can redo it on purpose.
    form = response.context["form"]
    assert form["title"].value() == "Theirs"
    assert form["version"].value() == incident.version
    assert ("Title", "Mine") in response.context["stale"]["yours"]


@pytest.mark.django_db
def test_forbidden_transition_shows_why(agent_client):
    incident = IncidentFactory()

    response = agent_client.post(
        reverse("incidents:move", args=[incident.pk]),
        {"to_status": "closed", "version": incident.version},
        follow=True,
    )

    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == Incident.Status.NEW
    assert "Pick a status the incident can move to." in response.content.decode()


@pytest.mark.django_db
def test_status_move_from_the_page(agent_client):
    incident = IncidentFactory()

    response = agent_client.post(
        reverse("incidents:move", args=[incident.pk]),
        {"to_status": "investigating", "version": incident.version},
        follow=True,
    )

    incident.refresh_from_db()
    assert incident.status == Incident.Status.INVESTIGATING
    assert "Status changed to investigating." in response.content.decode()


@pytest.mark.django_db
def test_reopen_from_the_page(agent_client):
    incident = IncidentFactory(status=Incident.Status.CLOSED)

    agent_client.post(
        reverse("incidents:reopen", args=[incident.pk]),
        {"reason": "Customer wrote back", "version": incident.version},
    )

    incident.refresh_from_db()
    assert incident.status == Incident.Status.INVESTIGATING


@pytest.mark.django_db
@pytest.mark.parametrize(
    "posted, said",
    [
        ({"reason": ""}, "Say why the incident is reopened."),
        ({"reason": "x" * 600}, "Why reopen?: Ensure this value has at most 500"),
        ({"reason": "Customer wrote back", "version": ""}, "reload it"),
        ({"reason": "Customer wrote back", "version": "abc"}, "reload it"),
    ],
)
def test_a_refused_reopen_names_the_real_problem(agent_client, posted, said):
    incident = IncidentFactory(status=Incident.Status.CLOSED)
    posted = {"version": incident.version, **posted}

    response = agent_client.post(
        reverse("incidents:reopen", args=[incident.pk]), posted, follow=True
    )

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    page = response.content.decode()
    assert said in page
    if "reason" in posted and posted["reason"]:
        assert "Say why the incident is reopened." not in page


@pytest.mark.django_db
def test_assign_from_the_page(agent_client, other_agent):
    incident = IncidentFactory()

    agent_client.post(
        reverse("incidents:assign", args=[incident.pk]),
        {"owner": other_agent.pk, "version": incident.version},
    )

    incident.refresh_from_db()
    assert incident.owner == other_agent


@pytest.mark.django_db
def test_unknown_incident_is_a_404(agent_client):
    assert agent_client.get("/incidents/999999/").status_code == 404


@pytest.mark.django_db
def test_customer_search_suggests_by_name_email_or_account(agent_client):
    CustomerFactory(name="Zed Example", account_id="ZED-1", email="zed@example.com")
    CustomerFactory(name="Other", account_id="OTH-1", email="other@example.com")

    by_name = agent_client.get(reverse("incidents:customer_search"), {"q": "zed"})
    by_account = agent_client.get(reverse("incidents:customer_search"), {"q": "OTH"})
    too_short = agent_client.get(reverse("incidents:customer_search"), {"q": "z"})

    assert [r["account_id"] for r in by_name.json()["results"]] == ["ZED-1"]
    assert [r["account_id"] for r in by_account.json()["results"]] == ["OTH-1"]
    assert too_short.json()["results"] == []


@pytest.mark.django_db
def test_list_filters_search_and_mine(agent_client, agent, other_agent):
    mine = IncidentFactory(title="Router on fire", owner=agent, priority=Priority.P1)
    IncidentFactory(title="Billing question", owner=other_agent, priority=Priority.P4)
    url = reverse("incidents:list")

    def titles(params):
        response = agent_client.get(url, params)
        return [row[0].title for row in response.context["rows"]]

    assert titles({"owner": agent.pk}) == ["Router on fire"]
    assert titles({"priority": "P4"}) == ["Billing question"]
    assert titles({"q": "router"}) == ["Router on fire"]
    assert titles({"q": mine.reference}) == ["Router on fire"]
    assert titles({"q": mine.customer.name[:6]}) == ["Router on fire"]
    assert titles({"status": "closed"}) == []
    assert titles({"priority": "bogus"}) == ["Billing question", "Router on fire"]


@pytest.mark.django_db
def test_list_filters_by_sla_state(agent_client, frozen_now, time_machine):
    IncidentFactory(title="Fast", priority=Priority.P1)
    IncidentFactory(title="Slow", priority=Priority.P4)
    time_machine.move_to(frozen_now + dt.timedelta(hours=1), tick=False)
    url = reverse("incidents:list")

    def titles(state):
        response = agent_client.get(url, {"sla": state})
        return {row[0].title for row in response.context["rows"]}

    assert titles("breached") == {"Fast"}  # 30-minute first response passed
    assert titles("running") == {"Slow"}
    assert titles("at_risk") == set()


@pytest.mark.django_db
def test_list_paginates(agent_client):
    for _ in range(27):
        IncidentFactory()

    first = agent_client.get(reverse("incidents:list"))
    second = agent_client.get(reverse("incidents:list"), {"page": 2})
    past_end = agent_client.get(reverse("incidents:list"), {"page": 99})

    assert len(first.context["rows"]) == 25
    assert len(second.context["rows"]) == 2
    assert past_end.status_code == 200


@pytest.mark.django_db
def test_time_zone_choice_changes_how_times_are_shown(agent_client, frozen_now):
    incident = IncidentFactory(priority=Priority.P1)

    agent_client.post(reverse("profile"), {"time_zone": "Asia/Tokyo"})
    page = agent_client.get(incident.get_absolute_url()).content.decode()

    # Opened 12:00 UTC = 21:00 in Tokyo; first response due 21:30.
    assert "21:30" in page
    assert "Asia/Tokyo" in page


def _populate(count):
    owner = UserFactory()
    for n in range(count):
        incident = IncidentFactory(owner=owner, is_systemic=n % 2 == 0)
        if n % 3 == 0:
            from incidents import services

            services.move_incident(
                incident=incident, actor=owner, to_status="investigating"
            )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 50])
def test_list_page_query_count_is_constant(
    agent_client, django_assert_num_queries, count
):
    _populate(count)

    # session, user, staff (owner filter), count, page ids, page rows, permissions,
    # categories (category filter), credits to decide (navigation)
    with django_assert_num_queries(9):
        response = agent_client.get(reverse("incidents:list"), {"status": "open"})

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 50])
def test_detail_page_query_count_is_constant(
    agent_client, django_assert_num_queries, count
):
    incident = IncidentFactory(
        customer=None,
        is_systemic=True,
        immediate_actions=[
            {"who": f"p{n}", "what": "w", "due_at": None} for n in range(count)
        ],
    )
    from incidents import services

    for _ in range(count):
        services.add_affected_customer(
            incident=incident, actor=None, customer=CustomerFactory()
        )

    # session, user, incident, timeline, actions, journey, affected customers,
    # permissions, staff (owner picker), the security hold (and an open
    # escalation stopping customer contact), what the portal will write,
    # credits to decide (navigation)
    with django_assert_num_queries(13):
        response = agent_client.get(incident.get_absolute_url())

    assert response.status_code == 200


@pytest.mark.django_db
def test_detail_page_shows_the_signal(agent_client):
    signal = Signal.objects.order_by("code").first()
    incident = IncidentFactory(signal=signal)

    page = agent_client.get(incident.get_absolute_url()).content.decode()

    assert f"{signal.code} · {signal.description}" in page


@pytest.mark.django_db
def test_list_pages_past_the_count_cap(agent_client, monkeypatch):
    from incidents import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 30)
    for _ in range(60):
        IncidentFactory()
    url = reverse("incidents:list")

    first = agent_client.get(url)
    third = agent_client.get(url, {"page": 3})

    assert first.context["page"].paginator.is_count_capped
    assert "more than 30 incidents match" in first.content.decode()
    assert first.context["page"].has_next()
    assert len(third.context["rows"]) == 10
    assert not third.context["page"].has_next()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "page",
    [
        "admin:incidents_customer_changelist",
        "admin:incidents_customer_add",
        "admin:incidents_policy_changelist",
        "admin:incidents_policy_add",
        "admin:incidents_businesscalendar_changelist",
        "admin:incidents_businesscalendar_add",
        "admin:incidents_category_changelist",
        "admin:incidents_signal_changelist",
        "admin:incidents_incident_changelist",
        "admin:incidents_timelineevent_changelist",
    ],
)
def test_admin_pages_open_for_admins(client, admin_user, page):
    IncidentFactory()
    client.force_login(admin_user)

    assert client.get(reverse(page)).status_code == 200


@pytest.mark.django_db
def test_admin_edits_a_policy_target(client, admin_user):
    from incidents.models import Policy
    from tests.incidents.test_admin import admin_post_data

    policy = Policy.objects.get(name="Carrier playbook")
    client.force_login(admin_user)
    url = reverse("admin:incidents_policy_change", args=[policy.pk])
    data = admin_post_data(client.get(url))
    p1 = next(k for k, v in data.items() if k.endswith("-priority") and v == "P1")
    prefix = p1.removesuffix("priority")
    data[f"{prefix}first_response_minutes"] = "20 min"
    data[f"{prefix}resolution_business_days"] = 2  # both units: refused

    refused = client.post(url, data)
    data[f"{prefix}resolution_business_days"] = ""
    accepted = client.post(url, data)

    assert refused.status_code == 200
    assert "either in minutes or in business days" in refused.content.decode()
    assert accepted.status_code == 302
    assert policy.targets.get(priority="P1").first_response_minutes == 20


@pytest.mark.django_db
def test_customer_search_with_a_nul_byte_is_harmless(agent_client):
    response = agent_client.get(reverse("incidents:customer_search"), {"q": "ab\x00"})

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["0", "-3", "abc", "99999999999"])
def test_list_survives_odd_page_numbers(agent_client, page):
    IncidentFactory()

    response = agent_client.get(reverse("incidents:list"), {"page": page})

    assert response.status_code == 200


@pytest.mark.django_db
def test_list_past_the_end_of_a_capped_count_links_back(agent_client, monkeypatch):
    from incidents import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    for _ in range(3):
        IncidentFactory()

    response = agent_client.get(reverse("incidents:list"), {"page": 50})

    assert "past the end of the list" in response.content.decode()


@pytest.mark.django_db
def test_staff_with_history_cannot_be_deleted_only_deactivated(client):
    from django.contrib.auth import get_user_model

    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    leaver = UserFactory(username="leaver", role="Agent")
    IncidentFactory(actor=leaver)
    client.force_login(root)
    url = reverse("admin:auth_user_delete", args=[leaver.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 200  # the admin's "cannot delete" page
    assert get_user_model().objects.filter(pk=leaver.pk).exists()


@pytest.mark.django_db
def test_edit_with_a_future_detection_time_shows_the_error_on_the_form(
    agent_client, frozen_now
):
    incident = IncidentFactory()
    data = _form_data(
        customer=incident.customer.account_id,
        category=incident.category.pk,
        version=incident.version,
        detected_at="2026-11-19T12:00",
    )

    response = agent_client.post(reverse("incidents:edit", args=[incident.pk]), data)

    assert response.status_code == 200
    assert response.context["form"].errors["detected_at"]


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["incidents:create", "incidents:edit"])
def test_a_contact_count_past_the_database_integer_is_a_form_error(agent_client, view):
    incident = IncidentFactory()
    data = _form_data(
        customer=incident.customer.account_id,
        version=incident.version,
        customer_contact_count="2147483648",
    )
    args = [incident.pk] if view == "incidents:edit" else []

    response = agent_client.post(reverse(view, args=args), data)

    assert response.status_code == 200
    assert response.context["form"].errors["customer_contact_count"]


@pytest.mark.django_db
def test_a_nul_byte_in_the_customer_is_a_form_error(agent_client):
    data = _form_data(customer="ACC-\x00")

    response = agent_client.post(reverse("incidents:create"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["customer"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "limit"), [("title", 200), ("what_happened", 10_000)]
)
def test_text_longer_than_its_limit_is_a_form_error(agent_client, field, limit):
    response = agent_client.post(
        reverse("incidents:create"), _form_data(**{field: "x" * (limit + 1)})
    )

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_the_form_states_text_limits(agent_client):
    response = agent_client.get(reverse("incidents:create"))

    body = response.content.decode()
    assert 'maxlength="200"' in body
    assert 'maxlength="10000"' in body
    assert "Up to 10,000 characters." in body


@pytest.mark.django_db
def test_customer_search_with_a_very_long_text_finds_nobody(agent_client):
    response = agent_client.get(
        reverse("incidents:customer_search"), {"q": "a" * 100_000}
    )

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["ab\x00", "x" * 1_000])
def test_list_search_with_a_bad_text_shows_the_error(agent_client, q):
    IncidentFactory()

    response = agent_client.get(reverse("incidents:list"), {"q": q})

    assert response.status_code == 200
    assert response.context["filter_form"].errors["q"]


@pytest.mark.django_db
@pytest.mark.parametrize("term", ["ac\x00", "x" * 2_000])
def test_admin_autocomplete_with_a_bad_term_finds_nothing(client, admin_user, term):
    CustomerFactory()
    client.force_login(admin_user)

    response = client.get(
        reverse("admin:autocomplete"),
        {
            "term": term,
            "app_label": "incidents",
            "model_name": "incident",
            "field_name": "customer",
        },
    )

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.django_db
def test_the_timeline_leaves_out_bookkeeping_and_filters_by_kind(agent_client, agent):
    from comms import services as comms_services
    from tests.factories import send_test_message

    incident = IncidentFactory(priority=Priority.P3)
    comms_services.due_work(incident.created_at)  # opens follow-up loops
    send_test_message(incident, agent, subject="Hello there")

    everything = agent_client.get(incident.get_absolute_url()).content.decode()
    messages = agent_client.get(incident.get_absolute_url() + "?show=messages")
    bookkeeping = agent_client.get(incident.get_absolute_url() + "?show=all")

    # The loops the opening started are folded into the opening's row.
    opened_row = everything[everything.index("Incident opened") :]
    opened_row = opened_row[: opened_row.index("</li>\n")]
    assert everything.count("Follow-up loop changed") == 2
    assert "What this changed besides (2)" in opened_row
    assert "customer follow-ups started" in opened_row
    assert "Hello there" in messages.content.decode()
    assert "Incident opened" not in messages.content.decode()
    assert "follow-ups started" in bookkeeping.content.decode()


@pytest.mark.django_db
def test_a_fleet_sev_1_opens_a_war_room_with_a_commander_from_the_page(
    agent, agent_client, other_agent
):
    # The fleet escalation playbook, step 5: a call, the people to invite,
    # an incident commander.
    from incidents.models import Policy, TimelineEvent

    fleet = Policy.objects.get(name="Fleet SaaS")
    incident = IncidentFactory(priority="P1", customer=CustomerFactory(policy=fleet))
    page = agent_client.get(incident.get_absolute_url()).content.decode()
    assert "Open the war room" in page and "Engineering lead" in page

    response = agent_client.post(
        reverse("incidents:war_room", args=[incident.pk]),
        {
            "call_url": "meet.example.com/sev1-trips",
            "commander": other_agent.pk,
            "version": incident.version,
        },
        follow=True,
    )

    incident.refresh_from_db()
    assert incident.war_room_url == "https://meet.example.com/sev1-trips"
    assert incident.commander == other_agent
    page = response.content.decode()
    assert "War room open: invite everyone listed" in page
    assert f"Incident commander: <strong>{other_agent.get_full_name()}" in page
    # "Set up incident status page updates": the room's card links the tab.
    assert reverse("statuspage:publish", args=[incident.pk]) in page
    event = TimelineEvent.objects.get(incident=incident, kind="war_room")
    assert event.details["opened"] and "DevOps" in event.details["invited"]


@pytest.mark.django_db
def test_a_war_room_is_refused_below_sev_1_and_where_the_policy_runs_none(
    agent_client,
):
    from incidents.models import Policy

    fleet = Policy.objects.get(name="Fleet SaaS")
    p2 = IncidentFactory(priority="P2", customer=CustomerFactory(policy=fleet))
    carrier_p1 = IncidentFactory(priority="P1")
    assert "war room" not in agent_client.get(p2.get_absolute_url()).content.decode()

    for incident, said in (
        (p2, "A war room is for Sev 1 (P1) incidents."),
        (carrier_p1, "The Carrier playbook policy runs no war rooms"),
    ):
        page = agent_client.post(
            reverse("incidents:war_room", args=[incident.pk]),
            {"call_url": "https://meet.example.com/x", "version": incident.version},
            follow=True,
        ).content.decode()
        incident.refresh_from_db()
        assert incident.war_room_opened_at is None
        assert said in page
