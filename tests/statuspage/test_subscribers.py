"""Subscribing to a status page by e-mail, and each update e-mailed once."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from statuspage.models import (
    Component,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
    StatusPage,
    Subscriber,
    SubscriberNotice,
)
from statuspage.services import subscribers
from tests.mail_server import free_port

CSRF_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
LINK = re.compile(r"https?://\S+")


# --- Helpers ----------------------------------------------------------------


class DyingBackend(LocmemBackend):
    """Takes one e-mail, then the worker is killed while handing over the next."""

    def send_messages(self, messages):
        if len(mail.outbox) >= 1:
            raise SystemExit("worker killed by the cluster's timeout")
        return super().send_messages(messages)


@pytest.fixture
def mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "status@example.com"
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    return settings


@pytest.fixture
def page(db, mail_settings):
    return StatusPage.objects.create(
        name="Fleet Manager",
        slug="fleet",
        brand_text="Fleet Manager",
        time_zone="Europe/Berlin",
    )


@pytest.fixture
def tracking(page):
    return Component.objects.create(page=page, name="Vehicle tracking", position=1)


@pytest.fixture
def billing(page):
    return Component.objects.create(page=page, name="Billing", position=2)


def _subscriber(page, address, *, components=(), **states):
    subscriber = Subscriber.objects.create(page=page, email=address, **states)
    subscriber.components.set(components)
    return subscriber


def _confirmed(page, address, *, components=(), **states):
    confirmed_at = timezone.now() - dt.timedelta(days=1)
    return _subscriber(
        page, address, components=components, confirmed_at=confirmed_at, **states
    )


def _posted_update(page, components, *, title="Planned database upgrade"):
    publication = Publication.objects.create(
        page=page, kind=Publication.Kind.MAINTENANCE, title=title
    )
    update = PublicUpdate.objects.create(
        publication=publication,
        status=PublicStatus.IN_PROGRESS,
        impact=Impact.MAINTENANCE,
        body="Tracking positions may lag by up to five minutes.",
        posted_at=timezone.now(),
    )
    update.components.set(components)
    return update


def _subscribe(client, page, address, components=(), **extra):
    return client.post(
        reverse("statuspage:subscribe", args=[page.slug]),
        {"email": address, "components": [c.pk for c in components]},
        **extra,
    )


def _links(text: str) -> list[str]:
    return LINK.findall(text)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def subscribe_and_mail(client, q2_sync, django_capture_on_commit_callbacks):
    """Subscribe through the page, running the mail task as the cluster would."""

    def run(page, address, components=(), **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return _subscribe(client, page, address, components, **extra)

    return run


# --- Subscribing --------------------------------------------------------------


def test_subscribe_page_shows_the_form_without_sign_in(client, page, tracking):
    response = client.get(reverse("statuspage:subscribe", args=[page.slug]))

    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b"Vehicle tracking" in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_subscribe_answers_the_same_whatever_the_address_state(
    client, page, subscribe_and_mail
):
    _subscriber(page, "pending@example.com")
    _confirmed(page, "subscribed@example.com")
    _confirmed(page, "gone@example.com", unsubscribed_at=timezone.now())
    addresses = [
        "new@example.com",
        "pending@example.com",
        "subscribed@example.com",
        "gone@example.com",
    ]

    answers = [subscribe_and_mail(page, address) for address in addresses]
    pages = [client.get(answer["Location"]) for answer in answers]

    assert {(a.status_code, a["Location"]) for a in answers} == {
        (302, reverse("statuspage:subscribe", args=[page.slug]) + "?sent")
    }
    bodies = {CSRF_TOKEN.sub(b"", p.content) for p in pages}
    assert len(bodies) == 1
    assert b"Check your inbox to confirm" in bodies.pop()


@pytest.mark.parametrize(
    ("states", "subject"),
    [
        (None, "[Fleet Manager] Confirm your subscription"),
        ({}, "[Fleet Manager] Confirm your subscription"),
        (
            {"confirmed_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
            "[Fleet Manager] You are already subscribed",
        ),
        (
            {
                "confirmed_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                "unsubscribed_at": dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
            },
            "[Fleet Manager] Confirm your subscription",
        ),
        (
            {
                "confirmed_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                "bounced_at": dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
            },
            "[Fleet Manager] Confirm your subscription",
        ),
    ],
    ids=["new", "pending", "subscribed", "unsubscribed", "bounced"],
)
def test_subscribe_mails_a_link_to_confirm_unless_already_subscribed(
    page, subscribe_and_mail, states, subject
):
    if states is not None:
        _subscriber(page, "jane@example.com", **states)

    subscribe_and_mail(page, "Jane@Example.com")

    assert [(m.subject, m.to) for m in mail.outbox] == [(subject, ["jane@example.com"])]
    assert Subscriber.objects.filter(page=page).count() == 1


def test_subscribe_to_an_active_address_changes_nothing_until_confirmed(
    page, tracking, billing, subscribe_and_mail
):
    subscriber = _confirmed(page, "jane@example.com", components=[billing])

    subscribe_and_mail(page, "jane@example.com", [tracking])

    subscriber.refresh_from_db()
    assert list(subscriber.components.all()) == [billing]
    assert "unsubscribe" in mail.outbox[0].body.lower()


def test_confirmation_link_confirms_with_the_chosen_components(
    client, page, tracking, billing, subscribe_and_mail
):
    subscribe_and_mail(page, "jane@example.com", [tracking])
    [link] = [u for u in _links(mail.outbox[0].body) if "/confirm/" in u]
    subscriber = Subscriber.objects.get(email="jane@example.com")

    shown = client.get(_path(link))
    subscriber.refresh_from_db()
    confirmed = client.post(_path(link), follow=True)

    assert "about Vehicle tracking." in mail.outbox[0].body
    assert shown.status_code == 200 and b"Confirm" in shown.content
    assert b"Vehicle tracking" in shown.content
    assert subscriber.confirmed_at is None  # a mail scanner's GET writes nothing
    subscriber.refresh_from_db()
    assert subscriber.is_active
    assert list(subscriber.components.all()) == [tracking]
    assert b"You are subscribed" in confirmed.content


def test_confirm_brings_back_an_unsubscribed_address(client, page):
    subscriber = _confirmed(page, "jane@example.com", unsubscribed_at=timezone.now())
    path = subscribers.confirm_path(subscriber=subscriber, component_ids=[])

    client.post(path)

    subscriber.refresh_from_db()
    assert subscriber.is_active and subscriber.unsubscribed_at is None


def test_subscribe_with_a_bad_address_is_400_and_writes_nothing(
    page, subscribe_and_mail
):
    response = subscribe_and_mail(page, "not an address")

    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_subscribe_to_a_component_of_another_page_is_400(
    page, tracking, subscribe_and_mail
):
    other = StatusPage.objects.create(name="Other", slug="other", brand_text="O")
    foreign = Component.objects.create(page=other, name="Foreign")

    response = subscribe_and_mail(page, "jane@example.com", [foreign])

    assert response.status_code == 400
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_subscribe_to_a_page_not_live_is_404(client, page, method):
    page.is_live = False
    page.save()

    response = getattr(client, method)(
        reverse("statuspage:subscribe", args=[page.slug]),
        {"email": "jane@example.com"},
    )

    assert response.status_code == 404
    assert not Subscriber.objects.exists()


def test_subscribe_from_one_client_past_the_limit_is_429_for_an_hour(
    page, subscribe_and_mail, time_machine, frozen_now
):
    for n in range(5):
        assert subscribe_and_mail(page, f"a{n}@example.com").status_code == 302

    refused = subscribe_and_mail(page, "a5@example.com")
    time_machine.move_to(frozen_now + dt.timedelta(minutes=61), tick=False)
    later = subscribe_and_mail(page, "a5@example.com")

    assert refused.status_code == 429
    assert b"try again in an hour" in refused.content
    assert later.status_code == 302
    assert len(mail.outbox) == 6


def test_subscribe_for_one_address_past_the_limit_is_429(
    page, subscribe_and_mail, frozen_now
):
    for n in range(3):
        answer = subscribe_and_mail(page, "jane@example.com", REMOTE_ADDR=f"10.0.0.{n}")
        assert answer.status_code == 302

    refused = subscribe_and_mail(page, "JANE@example.com", REMOTE_ADDR="10.0.0.9")

    assert refused.status_code == 429
    assert len(mail.outbox) == 3


def test_subscribe_keeps_csrf_protection(page):
    client = Client(enforce_csrf_checks=True)

    response = _subscribe(client, page, "jane@example.com")

    assert response.status_code == 403
    assert not Subscriber.objects.exists()


# --- Links of one purpose -------------------------------------------------------


def _bad_links(page, other, subscriber):
    confirm = subscribers.confirm_path(subscriber=subscriber, component_ids=[])
    unsubscribe = subscribers.unsubscribe_path(subscriber=subscriber)
    confirm_token = confirm.rstrip("/").rsplit("/", 1)[1]
    unsubscribe_token = unsubscribe.rstrip("/").rsplit("/", 1)[1]
    return {
        "forged confirm": confirm[:-3] + "xx/",
        "unsubscribe link at confirm": reverse(
            "statuspage:confirm", args=[page.slug, unsubscribe_token]
        ),
        "confirm link of another page": reverse(
            "statuspage:confirm", args=[other.slug, confirm_token]
        ),
        "raw token at confirm": reverse(
            "statuspage:confirm", args=[page.slug, subscriber.token]
        ),
        "forged unsubscribe": unsubscribe[:-3] + "xx/",
        "confirm link at unsubscribe": reverse(
            "statuspage:unsubscribe", args=[page.slug, confirm_token]
        ),
        "raw token at unsubscribe": reverse(
            "statuspage:unsubscribe", args=[page.slug, subscriber.token]
        ),
    }


@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_or_other_purpose_link_is_404_and_writes_nothing(client, page, method):
    other = StatusPage.objects.create(name="Other", slug="other", brand_text="O")
    pending = _subscriber(page, "pending@example.com")
    active = _confirmed(page, "active@example.com")
    links = {
        **{f"{k} (pending)": v for k, v in _bad_links(page, other, pending).items()},
        **{f"{k} (active)": v for k, v in _bad_links(page, other, active).items()},
    }

    answers = {name: getattr(client, method)(path) for name, path in links.items()}

    assert {name: a.status_code for name, a in answers.items()} == {
        name: 404 for name in links
    }
    pending.refresh_from_db()
    active.refresh_from_db()
    assert pending.confirmed_at is None
    assert active.is_active


def test_expired_confirmation_link_is_404(client, page, time_machine, frozen_now):
    subscriber = _subscriber(page, "jane@example.com")
    path = subscribers.confirm_path(subscriber=subscriber, component_ids=[])
    time_machine.move_to(frozen_now + dt.timedelta(days=8), tick=False)

    response = client.post(path)

    assert response.status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None


# --- Unsubscribing ----------------------------------------------------------------


def test_one_click_post_without_csrf_unsubscribes_once(page, frozen_now, time_machine):
    subscriber = _confirmed(page, "jane@example.com")
    path = subscribers.unsubscribe_path(subscriber=subscriber)
    provider = Client(enforce_csrf_checks=True)

    first = provider.post(path, {"List-Unsubscribe": "One-Click"})
    time_machine.move_to(frozen_now + dt.timedelta(hours=1), tick=False)
    again = provider.post(path, {"List-Unsubscribe": "One-Click"})

    assert (first.status_code, again.status_code) == (200, 200)
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at == frozen_now
    assert not subscriber.is_active


def test_unsubscribe_page_asks_before_unsubscribing(client, page):
    subscriber = _confirmed(page, "jane@example.com")

    response = client.get(subscribers.unsubscribe_path(subscriber=subscriber))

    assert response.status_code == 200
    assert b"Unsubscribe</button>" in response.content
    subscriber.refresh_from_db()
    assert subscriber.is_active


# --- Fan-out --------------------------------------------------------------------


def test_update_mail_says_what_the_public_reads_and_how_to_leave(
    client, page, tracking, frozen_now
):
    subscriber = _confirmed(page, "jane@example.com")
    update = _posted_update(page, [tracking])

    subscribers.notify_subscribers(update_id=update.pk)

    [message] = mail.outbox
    assert message.subject == "[Fleet Manager] Planned database upgrade — In progress"
    assert message.to == ["jane@example.com"]
    assert message.from_email == "status@example.com"
    unsubscribe_url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert message.extra_headers["List-Unsubscribe-Post"] == (
        "List-Unsubscribe=One-Click"
    )
    assert unsubscribe_url.startswith("https://portal.example.com/status/fleet/")
    assert unsubscribe_url in message.body
    assert "Tracking positions may lag" in message.body
    assert "Affected: Vehicle tracking" in message.body
    assert "18 Nov 2026, 13:00 CET" in message.body  # noon UTC in Berlin
    assert (
        f"https://portal.example.com/status/fleet/incidents/{update.publication_id}/"
        in message.body
    )
    Client(enforce_csrf_checks=True).post(_path(unsubscribe_url))
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None


def test_notify_subscribers_mails_each_active_follower_once(
    page, tracking, billing, frozen_now
):
    everything = _confirmed(page, "all@example.com")
    follower = _confirmed(page, "tracking@example.com", components=[tracking, billing])
    _confirmed(page, "billing@example.com", components=[billing])
    _subscriber(page, "pending@example.com")
    _confirmed(page, "gone@example.com", unsubscribed_at=frozen_now)
    _confirmed(page, "bounced@example.com", bounced_at=frozen_now)
    update = _posted_update(page, [tracking])
    _subscriber(page, "later@example.com", confirmed_at=frozen_now)  # same instant
    _subscriber(
        page, "after@example.com", confirmed_at=frozen_now + dt.timedelta(seconds=1)
    )

    first = subscribers.notify_subscribers(update_id=update.pk)
    second = subscribers.notify_subscribers(update_id=update.pk)

    assert sorted(to for m in mail.outbox for to in m.to) == [
        "all@example.com",
        "later@example.com",
        "tracking@example.com",
    ]
    assert all(len(m.to) == 1 for m in mail.outbox)
    assert first == {"sent": 3, "refused": 0, "in_doubt": 0, "left": 0}
    assert second == {"sent": 0, "refused": 0, "in_doubt": 0, "left": 0}
    assert set(
        SubscriberNotice.objects.filter(update=update).values_list(
            "subscriber", "status"
        )
    ) == {
        (everything.pk, "sent"),
        (follower.pk, "sent"),
        (Subscriber.objects.get(email="later@example.com").pk, "sent"),
    }


def test_notify_subscribers_skips_an_update_not_posted(page, tracking):
    _confirmed(page, "jane@example.com")
    update = _posted_update(page, [tracking])
    update.posted_at = None
    update.save()

    done = subscribers.notify_subscribers(update_id=update.pk)

    assert done["sent"] == 0 and mail.outbox == []


def test_notify_subscribers_hands_the_rest_to_a_new_task(page, tracking, settings):
    from django_q.models import OrmQ

    settings.STATUSPAGE_MAILS_PER_TASK = 2
    for n in range(3):
        _confirmed(page, f"s{n}@example.com")
    update = _posted_update(page, [tracking])

    first = subscribers.notify_subscribers(update_id=update.pk)
    queued = [(t.task["func"], t.task["args"]) for t in OrmQ.objects.all()]
    OrmQ.objects.all().delete()
    second = subscribers.notify_subscribers(update_id=update.pk)

    assert (first["sent"], first["left"]) == (2, 1)
    assert queued == [("statuspage.tasks.notify_subscribers", (update.pk,))]
    assert (second["sent"], second["left"]) == (1, 0)
    assert OrmQ.objects.count() == 0
    assert len(mail.outbox) == 3


def test_one_who_unsubscribes_mid_fan_out_gets_nothing(page, tracking, settings):
    settings.STATUSPAGE_MAILS_PER_TASK = 1
    first = _confirmed(page, "a@example.com")
    second = _confirmed(page, "b@example.com")
    update = _posted_update(page, [tracking])
    subscribers.notify_subscribers(update_id=update.pk)

    subscribers.unsubscribe(subscriber=second)
    done = subscribers.notify_subscribers(update_id=update.pk)

    assert [m.to for m in mail.outbox] == [[first.email]]
    assert done == {"sent": 0, "refused": 0, "in_doubt": 0, "left": 0}


def test_notices_of_a_killed_worker_are_in_doubt_and_never_resent(
    page, tracking, settings, time_machine, frozen_now
):
    settings.EMAIL_BACKEND = "tests.statuspage.test_subscribers.DyingBackend"
    for n in range(4):
        _confirmed(page, f"s{n}@example.com")
    update = _posted_update(page, [tracking])
    with pytest.raises(SystemExit):
        subscribers.notify_subscribers(update_id=update.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    handed_over = [m.to[0] for m in mail.outbox]

    time_machine.move_to(frozen_now + dt.timedelta(seconds=30), tick=False)
    early = subscribers.due_work(timezone.now())
    time_machine.move_to(frozen_now + dt.timedelta(seconds=61), tick=False)
    swept = subscribers.due_work(timezone.now())
    again = subscribers.notify_subscribers(update_id=update.pk)

    assert early["notices_in_doubt"] == 0
    assert swept["notices_in_doubt"] == 3
    assert again == {"sent": 0, "refused": 0, "in_doubt": 0, "left": 0}
    assert [m.to[0] for m in mail.outbox] == handed_over == ["s0@example.com"]
    assert sorted(
        SubscriberNotice.objects.filter(update=update).values_list("status", flat=True)
    ) == ["in_doubt", "in_doubt", "in_doubt", "sent"]


def test_a_refused_address_is_marked_bounced_and_not_mailed_again(
    page, tracking, smtp_server
):
    smtp_server.refuse.add("gone@example.com")
    bounced = _confirmed(page, "gone@example.com")
    _confirmed(page, "jane@example.com")
    update = _posted_update(page, [tracking])

    done = subscribers.notify_subscribers(update_id=update.pk)
    later = _posted_update(page, [tracking], title="Second window")
    subscribers.notify_subscribers(update_id=later.pk)

    assert done == {"sent": 1, "refused": 1, "in_doubt": 0, "left": 0}
    bounced.refresh_from_db()
    assert bounced.bounced_at is not None
    assert SubscriberNotice.objects.get(subscriber=bounced).status == "refused"
    assert [e.rcpt_tos for e in smtp_server.messages] == [
        ["jane@example.com"],
        ["jane@example.com"],
    ]
    [first, *_] = smtp_server.parsed()
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Folded onto its own line, as long headers are.
    assert (
        first["List-Unsubscribe"]
        .strip()
        .startswith("<https://portal.example.com/status/fleet/unsubscribe/")
    )


def test_an_e_mail_refused_at_data_is_refused_alone(page, tracking, smtp_server):
    smtp_server.refuse_data_for.add("full@example.com")
    full = _confirmed(page, "full@example.com")
    _confirmed(page, "jane@example.com")
    update = _posted_update(page, [tracking])

    done = subscribers.notify_subscribers(update_id=update.pk)

    assert done == {"sent": 1, "refused": 1, "in_doubt": 0, "left": 0}
    assert SubscriberNotice.objects.get(subscriber=full).status == "refused"
    full.refresh_from_db()
    assert full.bounced_at is None
    assert [e.rcpt_tos for e in smtp_server.messages] == [["jane@example.com"]]


def test_a_mail_server_down_leaves_notices_waiting_for_the_sweep(
    page,
    tracking,
    settings,
    time_machine,
    frozen_now,
    django_capture_on_commit_callbacks,
):
    from django_q.models import OrmQ

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    _confirmed(page, "jane@example.com")
    update = _posted_update(page, [tracking])

    down = subscribers.notify_subscribers(update_id=update.pk)
    queued_at_once = OrmQ.objects.count()
    time_machine.move_to(frozen_now + dt.timedelta(minutes=2), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        swept = subscribers.due_work(timezone.now())

    assert down == {"sent": 0, "refused": 0, "in_doubt": 0, "left": 1}
    assert queued_at_once == 0
    assert swept == {"notices_in_doubt": 0, "fan_outs_resumed": 1}
    assert [t.task["args"] for t in OrmQ.objects.all()] == [(update.pk,)]


def test_sweep_starts_a_fan_out_whose_task_was_lost(
    page,
    tracking,
    billing,
    time_machine,
    frozen_now,
    django_capture_on_commit_callbacks,
):
    from django_q.models import OrmQ

    _confirmed(page, "jane@example.com", components=[tracking])
    lost = _posted_update(page, [tracking])
    _posted_update(page, [billing], title="Nobody follows billing")
    time_machine.move_to(frozen_now + dt.timedelta(minutes=2), tick=False)

    with django_capture_on_commit_callbacks(execute=True):
        swept = subscribers.due_work(timezone.now())

    assert swept == {"notices_in_doubt": 0, "fan_outs_resumed": 1}
    assert [t.task["args"] for t in OrmQ.objects.all()] == [(lost.pk,)]


def test_the_portal_sweep_runs_the_status_pages_due_work(page, frozen_now):
    from portal.tasks import run_due_work

    done = run_due_work(frozen_now, dry_run=True)

    assert done["statuspage"] == {"notices_in_doubt": 0, "fan_outs_resumed": 0}
