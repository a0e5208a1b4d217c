"""Subscribers: double opt-in, one-click unsubscribe, and each update
e-mailed to each subscriber exactly once.

The web answer to a subscription never says whether the address was known:
every valid request gets the same page, and the mail (a link to confirm,
or for an address already subscribed a note on how to leave) goes from the
task cluster, so the answer takes as long whatever the address.

An update goes out as one e-mail per subscriber, each recorded as a
``SubscriberNotice``: pending, claimed (sending), then sent or refused. A
worker that dies mid-chunk leaves its notices "sending"; the sweep turns
those into "in doubt", and they are never sent again.
"""

import contextlib
import datetime as dt
import hashlib
import smtplib
import time
import zoneinfo
from collections import Counter
from email.utils import make_msgid

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone
from django_q.tasks import async_task

from ..models import Component, PublicUpdate, StatusPage, Subscriber, SubscriberNotice

NOTIFY_TASK = "statuspage.tasks.notify_subscribers"
MAIL_TASK = "statuspage.tasks.send_subscription_mail"

# Each link is signed for one purpose: a confirmation link cannot
# unsubscribe, nor an unsubscribe link confirm.
CONFIRM_SALT = "statuspage.subscriber.confirm"
UNSUBSCRIBE_SALT = "statuspage.subscriber.unsubscribe"

# Read when used, so settings overrides in tests apply; the portal's
# settings module may set any of them.
DEFAULTS = {
    # Subscriptions one client address may ask for in an hour.
    "STATUSPAGE_SUBSCRIBES_PER_IP_PER_HOUR": 5,
    # Mails (a link to confirm, or "already subscribed") one address may be
    # sent in an hour, however many pages and clients ask.
    "STATUSPAGE_SUBSCRIBES_PER_ADDRESS_PER_HOUR": 3,
    "STATUSPAGE_CONFIRM_LINK_MAX_AGE_DAYS": 7,
    # Update e-mails one task sends before handing the rest to the next.
    "STATUSPAGE_MAILS_PER_TASK": 500,
    # Notices claimed at once: a killed worker leaves at most these in doubt,
    # and only the one it was handing over when it died may have arrived.
    "STATUSPAGE_MAIL_CHUNK": 100,
    # E-mails a second at most (0: as fast as the mail server takes them).
    "STATUSPAGE_MAILS_PER_SECOND": 0,
    # A task stops claiming after this long, well inside the cluster timeout.
    "STATUSPAGE_TASK_SECONDS": 25,
    # A claim older than this belongs to a dead worker (None: the cluster's
    # task timeout, after which q2 has killed the worker).
    "STATUSPAGE_STALE_CLAIM_SECONDS": None,
    # A fan-out that stopped (mail server down, task lost) is taken up again
    # by the sweep for this long after the update was posted.
    "STATUSPAGE_RESUME_HOURS": 24,
    # Where the public reaches the pages, for links in update e-mails (a page
    # with a host of its own uses it); empty: PORTAL_BASE_URL.
    "STATUSPAGE_BASE_URL": "",
}


def _setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


def _stale_claim_seconds() -> int:
    return _setting("STATUSPAGE_STALE_CLAIM_SECONDS") or settings.Q_CLUSTER["timeout"]


# --- Signed links -----------------------------------------------------------


def confirm_path(*, subscriber: Subscriber, component_ids: list[int]) -> str:
    """Return the path that confirms a subscription with these components.

    The components ride in the signed link and are applied only when the
    mailbox's owner confirms, so nobody else can change what they follow.
    """
    token = signing.dumps(
        {"t": subscriber.token, "c": sorted(component_ids)},
        salt=CONFIRM_SALT,
        compress=True,
    )
    return reverse("statuspage:confirm", args=[subscriber.page.slug, token])


def unsubscribe_path(*, subscriber: Subscriber) -> str:
    """Return the one-click unsubscribe path; it does not expire."""
    token = signing.dumps(subscriber.token, salt=UNSUBSCRIBE_SALT)
    return reverse("statuspage:unsubscribe", args=[subscriber.page.slug, token])


def confirm_link_target(
    *, page: StatusPage, token: str
) -> tuple[Subscriber, list[Component]] | None:
    """Return the subscriber and components a confirmation link is for.

    None for a forged, altered, expired or other-purpose link, or one of
    another page.
    """
    max_age = dt.timedelta(days=_setting("STATUSPAGE_CONFIRM_LINK_MAX_AGE_DAYS"))
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
        raw, component_ids = data["t"], [int(pk) for pk in data["c"]]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if not isinstance(raw, str):
        return None
    subscriber = (
        Subscriber.objects.select_related("page").filter(page=page, token=raw).first()
    )
    if subscriber is None:
        return None
    components = list(
        page.components.filter(is_active=True, pk__in=component_ids).order_by(
            "position", "name"
        )
    )
    return subscriber, components


def unsubscribe_link_target(*, page: StatusPage, token: str) -> Subscriber | None:
    """Return the subscriber an unsubscribe link is for, or None."""
    try:
        raw = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(raw, str):
        return None
    return (
        Subscriber.objects.select_related("page").filter(page=page, token=raw).first()
    )


def _public_base_url(page: StatusPage) -> str:
    if page.host:
        return f"https://{page.host}"
    return (_setting("STATUSPAGE_BASE_URL") or settings.PORTAL_BASE_URL).rstrip("/")


# --- Subscribing ------------------------------------------------------------


def _within_rate(what: str, limit: int, window_seconds: int = 3600) -> bool:
    """Count one more attempt at ``what``; False once past ``limit`` in the
    window that opened with the first attempt."""
    # Hashed: an e-mail address may hold characters a cache key must not.
    key = "statuspage:rate:" + hashlib.sha256(what.encode()).hexdigest()
    cache.add(key, 0, timeout=window_seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # it expired between the two calls
        cache.add(key, 1, timeout=window_seconds)
        count = 1
    return count <= limit


@transaction.atomic
def subscribe(
    *,
    page: StatusPage,
    email: str,
    components: list[Component],
    client_ip: str | None,
    base_url: str,
) -> Subscriber:
    """Ask for a page's updates by e-mail; the address confirms by a link.

    Whatever the address's state, the caller sees the same outcome: the
    task decides what the mail says. ``base_url`` is the scheme and host the
    person used, for the link. Refused with code "throttled" past the
    limits per client address and per e-mail address.
    """
    if not page.is_live:
        raise ValidationError(f"{page.name} is not live.", code="page_not_live")
    throttled = ValidationError(
        "Too many subscription requests; try again in an hour.", code="throttled"
    )
    if not _within_rate(
        f"ip:{client_ip}", _setting("STATUSPAGE_SUBSCRIBES_PER_IP_PER_HOUR")
    ):
        raise throttled
    email = email.strip().lower()
    if not _within_rate(
        f"address:{email}", _setting("STATUSPAGE_SUBSCRIBES_PER_ADDRESS_PER_HOUR")
    ):
        raise throttled
    if any(c.page_id != page.pk or not c.is_active for c in components):
        raise ValidationError(
            {
                "components": ValidationError(
                    "Choose this page's components.", code="bad_components"
                )
            }
        )
    subscriber, _ = Subscriber.objects.get_or_create(
        page=page, email__iexact=email, defaults={"email": email}
    )
    subscriber_id, component_ids = subscriber.pk, [c.pk for c in components]
    transaction.on_commit(
        lambda: async_task(MAIL_TASK, subscriber_id, component_ids, base_url)
    )
    return subscriber


def send_subscription_mail(
    *, subscriber_id: int, component_ids: list[int], base_url: str
) -> str:
    """E-mail an address the link to confirm its subscription.

    An address already subscribed gets a note instead: how to leave, and
    a link applying the components just chosen. A retried task may send
    the same mail twice, which only repeats a link.
    """
    subscriber = (
        Subscriber.objects.select_related("page").filter(pk=subscriber_id).first()
    )
    if subscriber is None or not subscriber.page.is_live:
        return "nothing"
    page = subscriber.page
    base_url = base_url.rstrip("/")
    components = page.components.filter(is_active=True, pk__in=component_ids)
    context = {
        "page": page,
        "email": subscriber.email,
        "components": list(
            components.order_by("position", "name").values_list("name", flat=True)
        ),
        "confirm_url": base_url
        + confirm_path(subscriber=subscriber, component_ids=component_ids),
        "unsubscribe_url": base_url + unsubscribe_path(subscriber=subscriber),
        "page_url": base_url + reverse("statuspage:page", args=[page.slug]),
        "max_age_days": _setting("STATUSPAGE_CONFIRM_LINK_MAX_AGE_DAYS"),
    }
    kind = "already_subscribed" if subscriber.is_active else "confirm"
    subject = (
        f"[{page.name}] You are already subscribed"
        if subscriber.is_active
        else f"[{page.name}] Confirm your subscription"
    )
    EmailMessage(
        subject=subject,
        body=render_to_string(f"statuspage/email/{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers={
            "Auto-Submitted": "auto-generated",
            "Message-ID": make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN),
        },
    ).send()
    return kind


@transaction.atomic
def confirm_subscription(
    *, subscriber: Subscriber, components: list[Component]
) -> Subscriber:
    """Start sending a page's updates to an address its owner confirmed.

    Also how a subscriber changes components, comes back after leaving, or
    shows that an address the mail server once refused works again.
    """
    subscriber = (
        Subscriber.objects.select_for_update()
        .select_related("page")
        .get(pk=subscriber.pk)
    )
    if any(c.page_id != subscriber.page_id for c in components):
        raise ValidationError("Choose this page's components.", code="bad_components")
    if not subscriber.is_active:
        # Kept while active: updates posted since then are still theirs.
        subscriber.confirmed_at = timezone.now()
    subscriber.unsubscribed_at = None
    subscriber.bounced_at = None
    subscriber.full_clean()
    subscriber.save(update_fields=["confirmed_at", "unsubscribed_at", "bounced_at"])
    subscriber.components.set(components)
    return subscriber


@transaction.atomic
def unsubscribe(*, subscriber: Subscriber) -> Subscriber:
    """Stop sending a page's updates to an address, at once; idempotent."""
    Subscriber.objects.filter(pk=subscriber.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=timezone.now()
    )
    # What was still waiting for them is not sent.
    SubscriberNotice.objects.filter(
        subscriber_id=subscriber.pk, status=SubscriberNotice.Status.PENDING
    ).delete()
    subscriber.refresh_from_db()
    return subscriber


# --- Fan-out ----------------------------------------------------------------


def _active(prefix: str = "") -> Q:
    return Q(
        **{
            f"{prefix}confirmed_at__isnull": False,
            f"{prefix}unsubscribed_at__isnull": True,
            f"{prefix}bounced_at__isnull": True,
        }
    )


def update_recipients(update: PublicUpdate) -> QuerySet[Subscriber]:
    """Return the subscribers an update is for.

    Active (confirmed, not unsubscribed, not bounced) and confirmed by the
    time it was posted, following every component or one of the update's.
    """
    follows = Subscriber.components.through.objects.filter(subscriber_id=OuterRef("pk"))
    update_components = PublicUpdate.components.through.objects.filter(
        publicupdate_id=update.pk
    ).values("component_id")
    return Subscriber.objects.filter(
        _active(),
        page_id=update.publication.page_id,
        confirmed_at__lte=update.posted_at,
    ).filter(
        ~Exists(follows) | Exists(follows.filter(component_id__in=update_components))
    )


class _UpdateMail:
    """The e-mail of one update, addressed to one subscriber at a time."""

    def __init__(self, update: PublicUpdate):
        publication = update.publication
        page = publication.page
        self.page, self.update = page, update
        self.base_url = _public_base_url(page)
        local = timezone.localtime(update.posted_at, zoneinfo.ZoneInfo(page.time_zone))
        self.subject = (
            f"[{page.name}] {' '.join(publication.title.split())} — "
            f"{update.get_status_display()}"
        )
        self.context = {
            "page": page,
            "title": publication.title,
            "status": update.get_status_display(),
            "body": update.body,
            "components": [
                c.name for c in update.components.order_by("position", "name")
            ],
            "posted_at": dateformat.format(local, "j M Y, H:i T"),
            "publication_url": self.base_url
            + reverse("statuspage:publication", args=[page.slug, publication.pk]),
            "page_url": self.base_url + reverse("statuspage:page", args=[page.slug]),
        }

    def to(self, subscriber: Subscriber) -> EmailMessage:
        unsubscribe_url = self.base_url + unsubscribe_path(subscriber=subscriber)
        body = render_to_string(
            "statuspage/email/update.txt",
            {**self.context, "unsubscribe_url": unsubscribe_url},
        )
        return EmailMessage(
            subject=self.subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[subscriber.email],
            headers={
                # RFC 8058: mail providers unsubscribe with one POST.
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Auto-Submitted": "auto-generated",
                # Stable: a mail system can drop a copy of the same notice.
                "Message-ID": f"<statuspage.{self.update.pk}.{subscriber.pk}"
                f"@{settings.EMAIL_MESSAGE_ID_DOMAIN}>",
            },
        )


class _Stop(Exception):
    """The mail server took nothing: the rest waits for a later task."""


class _Unknown(Exception):
    """The line dropped mid-send: the mail may or may not have arrived."""


class _Session:
    """One connection to the mail server for a task's chunks, opened again
    once when the server ends the session (421, e.g. a cap per session)."""

    def __init__(self):
        self.connection = None

    def send(self, email: EmailMessage) -> None:
        for again in (False, True):
            if self.connection is None:
                connection = get_connection()
                try:
                    connection.open()
                except (OSError, smtplib.SMTPException) as exc:
                    raise _Stop(str(exc)) from exc
                self.connection = connection
            try:
                sent = self.connection.send_messages([email])
            except smtplib.SMTPRecipientsRefused:
                raise
            except smtplib.SMTPDataError as exc:
                # A lasting refusal of this one e-mail (a full mailbox, a
                # policy): the next subscriber's may pass.
                if exc.smtp_code >= 500:
                    raise
                self.close()
                raise _Stop(str(exc)) from exc
            except smtplib.SMTPResponseException as exc:
                # An answer, so not taken: retried by a later task.
                self.close()
                if exc.smtp_code == 421 and not again:
                    continue
                raise _Stop(str(exc)) from exc
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                raise _Unknown(str(exc)) from exc
            if not sent:
                raise _Stop("The mail server took nothing.")
            return

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None


def _create_notices(update: PublicUpdate) -> None:
    # Once per update: the recipients are fixed by the first run, and a
    # later run (the rest of a long list) need not read them all again.
    if SubscriberNotice.objects.filter(update=update).exists():
        return
    notices = [
        SubscriberNotice(update=update, subscriber_id=pk)
        for pk in update_recipients(update).values_list("pk", flat=True)
    ]
    SubscriberNotice.objects.bulk_create(
        notices, ignore_conflicts=True, batch_size=1000
    )


def _claim(update: PublicUpdate, limit: int) -> list[SubscriberNotice]:
    """Claim up to ``limit`` pending notices for this worker alone."""
    now = timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: two workers on one update take different rows. SQLite
        # ignores the lock, and its IMMEDIATE transactions take turns.
        pks = list(
            SubscriberNotice.objects.select_for_update(skip_locked=True)
            .filter(update=update, status=SubscriberNotice.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        SubscriberNotice.objects.filter(
            pk__in=pks, status=SubscriberNotice.Status.PENDING
        ).update(status=SubscriberNotice.Status.SENDING, claimed_at=now)
    return list(
        SubscriberNotice.objects.select_related("subscriber__page")
        .filter(pk__in=pks, status=SubscriberNotice.Status.SENDING, claimed_at=now)
        .order_by("pk")
    )


def _settle(notice: SubscriberNotice, status: str, **fields) -> None:
    # Only under this worker's claim: the sweep may have given up on it.
    SubscriberNotice.objects.filter(
        pk=notice.pk,
        status=SubscriberNotice.Status.SENDING,
        claimed_at=notice.claimed_at,
    ).update(status=status, **fields)


def _release(notices: list[SubscriberNotice]) -> None:
    """Give back claimed notices this worker never handed over."""
    for notice in notices:
        _settle(notice, SubscriberNotice.Status.PENDING, claimed_at=None)


def notify_subscribers(*, update_id: int) -> dict:
    """E-mail a posted update to each of its subscribers, exactly once.

    Notices are made for the recipients, then claimed a chunk at a time and
    sent over one connection, each marked sent as the server takes it. A
    refused address is marked bounced and never mailed again; an e-mail
    refused for good at DATA is marked refused alone. After
    STATUSPAGE_MAILS_PER_TASK e-mails (or STATUSPAGE_TASK_SECONDS) the rest
    goes to a new task; when the mail server is down, the sweep takes the
    rest up later. Running it again for the same update sends nothing twice.
    """
    done = Counter(sent=0, refused=0, in_doubt=0)
    update = (
        PublicUpdate.objects.select_related("publication__page")
        .filter(pk=update_id, posted_at__isnull=False)
        .first()
    )
    if update is None:
        return {**done, "left": 0}
    _create_notices(update)
    # Those who left since the notices were made are not sent theirs.
    SubscriberNotice.objects.filter(
        update=update, status=SubscriberNotice.Status.PENDING
    ).exclude(_active("subscriber__")).delete()

    pace = _setting("STATUSPAGE_MAILS_PER_SECOND")
    slice_seconds = _setting("STATUSPAGE_TASK_SECONDS")
    budget = _setting("STATUSPAGE_MAILS_PER_TASK")
    if pace:
        budget = min(budget, max(1, int(pace * slice_seconds)))
    started = time.monotonic()
    deadline = started + slice_seconds
    mail = _UpdateMail(update)
    session = _Session()
    stopped = False
    try:
        while budget > 0 and not stopped and time.monotonic() < deadline:
            notices = _claim(update, min(_setting("STATUSPAGE_MAIL_CHUNK"), budget))
            if not notices:
                break
            budget -= len(notices)
            for position, notice in enumerate(notices):
                if time.monotonic() >= deadline:
                    _release(notices[position:])
                    break
                if pace:
                    handed = done["sent"] + done["refused"]
                    wait = started + handed / pace - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                try:
                    session.send(mail.to(notice.subscriber))
                except smtplib.SMTPRecipientsRefused:
                    now = timezone.now()
                    _settle(notice, SubscriberNotice.Status.REFUSED)
                    Subscriber.objects.filter(
                        pk=notice.subscriber_id, bounced_at__isnull=True
                    ).update(bounced_at=now)
                    done["refused"] += 1
                except smtplib.SMTPDataError:
                    _settle(notice, SubscriberNotice.Status.REFUSED)
                    done["refused"] += 1
                except _Unknown:
                    _settle(notice, SubscriberNotice.Status.IN_DOUBT)
                    _release(notices[position + 1 :])
                    done["in_doubt"] += 1
                    stopped = True
                    break
                except _Stop:
                    _release(notices[position:])
                    stopped = True
                    break
                else:
                    _settle(
                        notice, SubscriberNotice.Status.SENT, sent_at=timezone.now()
                    )
                    done["sent"] += 1
    finally:
        session.close()
    left = SubscriberNotice.objects.filter(
        update=update, status=SubscriberNotice.Status.PENDING
    ).count()
    if left and not stopped:
        async_task(NOTIFY_TASK, update.pk)
    return {**done, "left": left}


def due_work(now: dt.datetime) -> dict[str, int]:
    """Settle dead workers' claims as in doubt; resume stopped fan-outs.

    A notice claimed longer ago than a task may run was cut off mid-send:
    it may have arrived, so it is never sent again. A fan-out with notices
    still waiting and no claim for as long (its task was lost, or the mail
    server was down), or an update whose task never ran, gets a new task.
    """
    stale_before = now - dt.timedelta(seconds=_stale_claim_seconds())
    in_doubt = SubscriberNotice.objects.filter(
        status=SubscriberNotice.Status.SENDING, claimed_at__lt=stale_before
    ).update(status=SubscriberNotice.Status.IN_DOUBT)

    recent = PublicUpdate.objects.filter(
        posted_at__gte=now - dt.timedelta(hours=_setting("STATUSPAGE_RESUME_HOURS")),
        posted_at__lt=stale_before,
    )
    notices = SubscriberNotice.objects.filter(update=OuterRef("pk"))
    waiting = list(
        recent.filter(
            Exists(notices.filter(status=SubscriberNotice.Status.PENDING)),
            ~Exists(notices.filter(claimed_at__gte=stale_before)),
        ).values_list("pk", flat=True)
    )
    never_ran = [
        update.pk
        for update in recent.filter(~Exists(notices)).select_related("publication")
        if update_recipients(update).exists()
    ]
    for update_id in [*waiting, *never_ran]:
        transaction.on_commit(
            lambda update_id=update_id: async_task(NOTIFY_TASK, update_id)
        )
    return {
        "notices_in_doubt": in_doubt,
        "fan_outs_resumed": len(waiting) + len(never_ran),
    }
