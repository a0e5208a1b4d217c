"""Publishing an incident on a status page, from its Status page tab.

A post is a customer message to many (issue 27): the delivery rules for a
systemic incident decide whether a manager approves it first, nothing goes
up about a security incident before Legal approves, and the words the
approver let go are the words the public reads.
"""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from comms import services as comms_services
from comms.models import Channel, Message
from incidents import services as incident_services
from incidents.models import Category, Incident, Policy, Priority
from statuspage import services
from statuspage.models import Component, Impact, PublicUpdate, StatusPage
from tests.factories import CustomerFactory, IncidentFactory, message_fields


@pytest.fixture
def fleet_page(db):
    page = StatusPage.objects.create(
        name="Fleet status",
        slug="fleet",
        brand_text="Fleet Manager",
        policy=Policy.objects.get(name="Fleet SaaS"),
    )
    sync = Component.objects.create(page=page, name="Trip sync", position=1)
    sync.categories.add(Category.objects.get(slug="sync"))
    Component.objects.create(page=page, name="Dashboard", position=2)
    return page


@pytest.fixture
def fleet_sev1(fleet_page, agent):
    return IncidentFactory(
        priority=Priority.P1,
        category=Category.objects.get(slug="sync"),
        customer=CustomerFactory(policy=Policy.objects.get(name="Fleet SaaS")),
        customer_summary="Trip logs are not reaching the dashboard.",
        what_happened="INTERNAL: the sync worker pool died after the deploy.",
        owner=agent,
        status="investigating",
    )


def _post(client, incident, **overrides):
    page = StatusPage.objects.get(slug="fleet")
    data = {
        "page": "fleet",
        "components": [page.components.get(name="Trip sync").pk],
        "impact": Impact.MAJOR_OUTAGE,
        "status": "investigating",
        "title": "Trip sync: major outage",
        "body": "Trip logs are not reaching the dashboard. We are on it.",
        **overrides,
    }
    return client.post(reverse("statuspage:publish", args=[incident.pk]), data)


def _deliver(django_capture_on_commit_callbacks, act):
    with django_capture_on_commit_callbacks(execute=True):
        return act()


@pytest.mark.django_db
def test_the_tab_offers_the_post_prefilled_from_the_incident(agent_client, fleet_sev1):
    page = agent_client.get(reverse("statuspage:publish", args=[fleet_sev1.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Publish to the status page" in html
    assert "Trip logs are not reaching the dashboard." in html  # customer summary
    sync = Component.objects.get(name="Trip sync")
    assert f'value="{sync.pk}" checked' in html or (
        f'value="{sync.pk}"' in html and "checked" in html
    )
    assert 'value="major_outage" selected' in html  # a P1


@pytest.mark.django_db
def test_a_sev1_post_waits_for_a_manager_then_goes_up_as_approved(
    agent_client, fleet_sev1, manager, q2_sync, django_capture_on_commit_callbacks
):
    response = _post(agent_client, fleet_sev1)

    assert response.status_code == 302
    update = PublicUpdate.objects.get()
    message = update.message
    assert (message.channel, message.audience, message.status) == (
        Channel.STATUS_PAGE,
        "customer",
        Message.Status.AWAITING_APPROVAL,
    )
    assert update.posted_at is None
    from django.test import Client

    manager_client = Client()
    manager_client.force_login(manager)
    queue = manager_client.get(reverse("comms:approvals")).content.decode()
    assert "everyone reading /status/fleet/" in queue
    assert "Public title" in queue

    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(
            message=message,
            actor=manager,
            body="Trip logs are delayed. Our engineers are restoring sync.",
        ),
    )

    update.refresh_from_db()
    assert update.posted_at is not None
    assert update.body == "Trip logs are delayed. Our engineers are restoring sync."
    publication = update.publication
    publication.refresh_from_db()
    assert (publication.impact, publication.status) == ("major_outage", "investigating")
    assert list(publication.components.values_list("name", flat=True)) == ["Trip sync"]
    # A post answers nobody in particular: the customer's clock still runs.
    fleet_sev1.refresh_from_db()
    assert fleet_sev1.first_response_at is None
    # Delivered twice (a retried task), it is posted once.
    assert services.post_update(message=message).posted_at == update.posted_at


@pytest.mark.django_db
def test_a_p3_that_is_not_systemic_is_not_published(agent_client, fleet_page, agent):
    incident = IncidentFactory(priority=Priority.P3, owner=agent)

    page = agent_client.get(reverse("statuspage:publish", args=[incident.pk]))
    assert "carries P1, P2 and systemic incidents" in page.content.decode()

    with pytest.raises(ValidationError) as refused:
        services.publish_from_incident(
            incident=incident,
            actor=agent,
            page=fleet_page,
            components=list(fleet_page.components.all()),
            impact=Impact.DEGRADED,
            status="investigating",
            title="Slow dashboard",
            body="Pages load slowly.",
        )
    assert refused.value.code == "not_publishable"
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_nothing_goes_up_about_a_security_incident_before_legal(
    client, fleet_sev1, manager
):
    incident_services.flag_security_incident(
        incident=fleet_sev1, actor=manager, incident_type="data_breach"
    )
    client.force_login(manager)

    response = _post(client, fleet_sev1)

    assert response.status_code == 400
    assert "The status page publishes nothing until then" in response.content.decode()
    assert not Message.objects.exists()
    assert not PublicUpdate.objects.exists()


@pytest.mark.django_db
def test_a_second_post_waits_for_the_first_and_a_resolved_one_needs_resolution(
    agent_client, fleet_sev1, agent, fleet_page
):
    assert _post(agent_client, fleet_sev1).status_code == 302

    second = _post(agent_client, fleet_sev1, status="identified")
    assert second.status_code == 400
    assert "has not gone out yet" in second.content.decode()

    with pytest.raises(ValidationError) as refused:
        services.publish_from_incident(
            incident=fleet_sev1,
            actor=agent,
            page=fleet_page,
            components=list(fleet_page.components.all()),
            impact=Impact.DEGRADED,
            status="resolved",
            title="Fixed",
            body="All good.",
        )
    assert "status_disagrees" in str(refused.value.error_dict["status"][0].code)


@pytest.mark.django_db
def test_the_resolved_incident_is_offered_the_resolved_notice(
    agent_client,
    fleet_sev1,
    agent,
    manager,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    _post(agent_client, fleet_sev1)
    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(
            message=Message.objects.get(), actor=manager
        ),
    )
    fleet_sev1.refresh_from_db()
    fleet_sev1.fix_summary = "We restarted the sync service and replayed the logs."
    fleet_sev1.save(update_fields=["fix_summary"])
    incident = incident_services.move_incident(
        incident=fleet_sev1, actor=agent, to_status="resolved"
    )

    closure = agent_client.get(reverse("incidents:closure", args=[incident.pk]))
    assert "Fleet status: post the resolved notice" in closure.content.decode()
    html = agent_client.get(
        reverse("statuspage:publish", args=[incident.pk])
    ).content.decode()
    assert "post the resolved notice below" in html
    assert "We restarted the sync service and replayed the logs." in html
    assert 'value="resolved"' in html and 'value="investigating"' not in html

    response = _post(
        agent_client,
        incident,
        status="resolved",
        title="Trip sync: major outage",
        body="We restarted the sync service and replayed the logs.",
    )
    assert response.status_code == 302
    update = PublicUpdate.objects.latest("id")
    assert (update.status, update.impact, update.message.stage) == (
        "resolved",
        "operational",
        "resolution",
    )


@pytest.mark.django_db
def test_the_composer_cannot_write_a_status_page_post(agent_client, fleet_sev1, agent):
    with pytest.raises(ValidationError) as refused:
        comms_services.send_message(
            incident=fleet_sev1,
            actor=agent,
            **message_fields(fleet_sev1, channel=Channel.STATUS_PAGE),
        )
    assert refused.value.error_dict["channel"][0].code == "status_page_elsewhere"

    compose = agent_client.get(reverse("comms:compose", args=[fleet_sev1.pk]))
    assert 'value="status_page"' not in compose.content.decode()


@pytest.mark.django_db
def test_a_customer_update_offers_the_public_post_too(
    agent_client, fleet_sev1, manager, q2_sync, django_capture_on_commit_callbacks
):
    _post(agent_client, fleet_sev1)
    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(
            message=Message.objects.get(), actor=manager
        ),
    )

    response = agent_client.post(
        reverse("comms:compose", args=[fleet_sev1.pk]),
        {
            "audience": "customer",
            "channel": "email",
            "stage": "follow_up",
            "follow_up_number": 1,
            "recipients": fleet_sev1.customer.email,
            "subject": "Trip logs",
            "body": "Still on it.",
            "action": "Send",
        },
        follow=True,
    )

    html = response.content.decode()
    assert "Fleet status shows this incident" in html
    assert reverse("statuspage:publish", args=[fleet_sev1.pk]) in html


@pytest.mark.django_db
def test_customer_updates_link_the_status_page_once_it_shows_the_incident(
    agent_client,
    fleet_sev1,
    manager,
    settings,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    """004: "you can also check our status page ... for real-time updates"."""
    from comms.catalogue import incident_context
    from comms.models import MessageTemplate

    settings.STATUSPAGE_BASE_URL = "https://help.example.com"
    template = MessageTemplate.objects.get(key="customer-follow-up-1")

    def follow_up() -> str:
        context = incident_context(fleet_sev1, audience="customer")
        return comms_services.preview_template(
            version=template.current_version, context=context
        ).body

    assert "status page" not in follow_up()
    _post(agent_client, fleet_sev1)
    assert "status page" not in follow_up()  # not up yet: awaiting approval

    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(
            message=Message.objects.get(), actor=manager
        ),
    )

    assert (
        "Live updates in between, on our status page: "
        "https://help.example.com/status/fleet/" in follow_up()
    )
    StatusPage.objects.filter(slug="fleet").update(host="status.fleet.example")
    assert "https://status.fleet.example/" in follow_up()


@pytest.mark.django_db
def test_a_rejected_post_is_written_again_on_the_tab_not_reworked(
    agent_client, fleet_sev1, agent, manager
):
    _post(agent_client, fleet_sev1)
    message = Message.objects.get()
    comms_services.reject_message(message=message, actor=manager, reason="Too vague")

    with pytest.raises(ValidationError) as refused:
        comms_services.rework_message(message=message, actor=agent)

    assert refused.value.code == "status_page_elsewhere"
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_posts_waiting_on_two_pages_do_not_replace_each_other(
    agent_client,
    fleet_sev1,
    fleet_page,
    manager,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    other = StatusPage.objects.create(name="Partners", slug="partners", brand_text="P")
    Component.objects.create(page=other, name="Trip sync")
    _post(agent_client, fleet_sev1)
    _post(
        agent_client,
        fleet_sev1,
        page="partners",
        components=[other.components.get().pk],
    )
    first, second = Message.objects.order_by("pk")

    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(message=first, actor=manager),
    )

    first.refresh_from_db()
    assert first.status == Message.Status.SENT
    assert PublicUpdate.objects.get(message=first).posted_at is not None


@pytest.mark.django_db
def test_a_public_post_is_not_the_customers_resolution_e_mail(
    agent_client,
    fleet_sev1,
    agent,
    manager,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    from incidents.services.closure_evidence import closure_facts, evidence_found

    _post(agent_client, fleet_sev1)
    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(
            message=Message.objects.get(), actor=manager
        ),
    )
    fleet_sev1.refresh_from_db()
    fleet_sev1.fix_summary = "We restarted the sync service."
    fleet_sev1.save(update_fields=["fix_summary"])
    incident = incident_services.move_incident(
        incident=fleet_sev1, actor=agent, to_status="resolved"
    )
    _post(agent_client, incident, status="resolved", body="Fixed: trips sync again.")
    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(
            message=Message.objects.latest("pk"), actor=manager
        ),
    )
    assert PublicUpdate.objects.latest("pk").posted_at is not None

    # "Customer told it is resolved" waits for the customer's own e-mail.
    item = SimpleNamespace(evidence="resolution_message_sent", audience="customer")
    assert evidence_found(item, closure_facts(incident)) is None


@pytest.mark.django_db
def test_a_closed_incident_still_up_on_the_page_gets_its_resolved_notice(
    agent_client,
    fleet_sev1,
    agent,
    fleet_page,
    manager,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    _post(agent_client, fleet_sev1)
    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(
            message=Message.objects.get(), actor=manager
        ),
    )
    # As if auto-closed before anyone posted the resolved notice.
    Incident.objects.filter(pk=fleet_sev1.pk).update(
        status="closed",
        resolved_at=timezone.now(),
        closed_at=timezone.now(),
        fix_summary="We restarted the sync service.",
    )
    fleet_sev1.refresh_from_db()

    with pytest.raises(ValidationError) as refused:
        services.publish_from_incident(
            incident=fleet_sev1,
            actor=agent,
            page=fleet_page,
            components=list(fleet_page.components.all()),
            impact=Impact.DEGRADED,
            status="identified",
            title="Still going",
            body="Still going.",
        )
    assert "status_disagrees" in str(refused.value.error_dict["status"][0].code)

    update = services.publish_from_incident(
        incident=fleet_sev1,
        actor=agent,
        page=fleet_page,
        components=list(fleet_page.components.filter(name="Trip sync")),
        impact=Impact.DEGRADED,
        status="resolved",
        title="Trip sync: major outage",
        body="This was fixed on Tuesday.",
    )
    assert (update.status, update.impact) == ("resolved", "operational")


@pytest.mark.django_db
def test_an_older_post_never_takes_the_page_back(fleet_sev1, agent, fleet_page):
    from comms.channels import DeliveryError
    from statuspage.channel import StatusPageChannel

    older = services.publish_from_incident(
        incident=fleet_sev1,
        actor=agent,
        page=fleet_page,
        components=list(fleet_page.components.filter(name="Trip sync")),
        impact=Impact.MAJOR_OUTAGE,
        status="investigating",
        title="Trip sync: major outage",
        body="Looking into it.",
    )
    # A newer post went up while the older one failed (as if retried later).
    PublicUpdate.objects.create(
        publication=older.publication,
        status="monitoring",
        impact=Impact.DEGRADED,
        body="A fix is out; we are watching.",
        posted_at=timezone.now(),
    )
    publication = older.publication
    publication.status, publication.impact = "monitoring", Impact.DEGRADED
    publication.save(update_fields=["status", "impact"])

    with pytest.raises(DeliveryError):
        StatusPageChannel().send(older.message)

    older.refresh_from_db()
    assert older.posted_at is None
    publication.refresh_from_db()
    assert (publication.status, publication.impact) == ("monitoring", "degraded")


@pytest.mark.django_db
def test_a_post_naming_a_page_that_is_not_live_is_refused_not_redirected(
    agent_client, fleet_sev1, fleet_page
):
    StatusPage.objects.create(name="Old", slug="old", brand_text="O", is_live=False)

    for slug in ("old", "no-such-page"):
        response = _post(agent_client, fleet_sev1, page=slug)
        assert response.status_code == 404

    assert not Message.objects.exists()
