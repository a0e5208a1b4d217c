"""Monitoring signals open proactive incidents, or join the one already open.

Carrier communication playbook, part 1: a proactive signal (SIG-001 …
SIG-010) starts the incident flow; part 7: related signals merge into one
communication. Signals that share a dedup key land on one open incident,
whatever their SIG code; the incident turns systemic once more customers
are affected than its policy's threshold. The API only checks and queues a
signal; the cluster's task (or, when that task is lost, the sweep) applies
it, once.
"""

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from incidents import selectors as incident_selectors
from incidents import services as incident_services
from incidents.models import (
    Category,
    Customer,
    Incident,
    Policy,
    Signal,
    TimelineEvent,
)

from ..models import MonitoringIntegration, SignalKey, SignalReceipt

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "sbm_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_integration_token(*, integration: MonitoringIntegration) -> str:
    """Give the integration a new token and return it (shown once, kept hashed)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    integration.token_hash = hash_token(token)
    integration.token_hint = token[:10]
    if integration.pk:
        integration.save(update_fields=["token_hash", "token_hint"])
    else:
        integration.save()
    return token


def integration_for_token(token: str) -> MonitoringIntegration | None:
    """Return the active integration this token belongs to, if any."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return MonitoringIntegration.objects.filter(
        token_hash=hash_token(token), is_active=True
    ).first()


def take_rate_slot(*, integration: MonitoringIntegration, now: dt.datetime) -> bool:
    """Count one request against the integration's per-minute limit.

    Conditional UPDATEs, no lock held: either the current minute has room,
    or the window moves to this minute and starts at one. When another
    request moves the window between the two, counting is tried again, so
    a minute's turn never refuses a request under the limit.
    """
    minute = now.replace(second=0, microsecond=0)
    limit = integration.rate_limit_per_minute
    if not limit:
        return False
    rows = MonitoringIntegration.objects.filter(pk=integration.pk)
    for _ in range(2):
        # A window a worker with a faster clock already moved on counts as now.
        if rows.filter(window_started_at__gte=minute, window_count__lt=limit).update(
            window_count=F("window_count") + 1, last_used_at=now
        ):
            return True
        if rows.filter(
            Q(window_started_at__lt=minute) | Q(window_started_at=None)
        ).update(window_started_at=minute, window_count=1, last_used_at=now):
            return True
    return False


def _customers(identifiers: list[str]) -> tuple[list[Customer], list[str]]:
    """Return known customers named by account id or e-mail, and the unknown."""
    wanted = list(dict.fromkeys(i.strip() for i in identifiers if i.strip()))
    lowered = [i.lower() for i in wanted]
    found = list(
        Customer.objects.filter(Q(account_id__in=wanted) | Q(email__in=lowered))
        .select_related("policy")
        .order_by("pk")
    )
    known = {c.account_id for c in found} | {c.email.lower() for c in found}
    unknown = [i for i in wanted if i not in known and i.lower() not in known]
    return found, unknown


def _key_row(key: str) -> SignalKey:
    try:
        with transaction.atomic():
            SignalKey.objects.get_or_create(key=key)
    except IntegrityError:
        pass  # Created by a concurrent signal: it exists now.
    return SignalKey.objects.select_for_update().get(key=key)


def _named_category(signal: Signal, slug: str) -> Category:
    """Return the category the signal names, else the signal's own."""
    chosen = (
        Category.objects.filter(slug=slug.strip().lower(), is_active=True).first()
        if slug.strip()
        else signal.category
    )
    if chosen is None:
        raise ValidationError(
            f"No category for {signal.code}: name one (its slug) in the signal, "
            "or an admin sets one on the signal.",
            code="no_category",
        )
    return chosen


def _category(signal: Signal, slug: str, policy: Policy) -> Category:
    """Return the signal's category if the incident's policy offers it.

    Otherwise the policy's first category stands in: an alert is never lost
    for its category, and the agent files it under the right one.
    """
    chosen = _named_category(signal, slug)
    offered = incident_selectors.categories_offered(policy)
    if offered.filter(pk=chosen.pk).exists():
        return chosen
    stand_in = offered.order_by("position", "name").first()
    if stand_in is None:
        raise ValidationError(
            f"The “{policy.name}” policy offers no category for {signal.code}'s "
            "incident: an admin gives it one.",
            code="no_category",
        )
    return stand_in


def _make_systemic(incident: Incident, customers: list[Customer]) -> Incident:
    if not incident.is_systemic:
        incident = incident_services.edit_incident_details(
            incident=incident,
            actor=None,
            expected_version=incident.version,
            changes={"is_systemic": True},
        )
    listed = set(incident.affected_customers.values_list("customer_id", flat=True))
    for customer in customers:
        if customer.pk not in listed:
            incident_services.add_affected_customer(
                incident=incident, actor=None, customer=customer
            )
            listed.add(customer.pk)
    return incident


def _active_signal(code: str) -> Signal:
    signal = (
        Signal.objects.filter(code=code.strip().upper(), is_active=True)
        .select_related("category")
        .first()
    )
    if signal is None:
        raise ValidationError(
            f"“{code}” is not an active signal of the catalogue.",
            code="unknown_signal",
        )
    return signal


def _key_has_open_incident(dedup_key: str) -> bool:
    return SignalKey.objects.filter(
        key=dedup_key, incident__status__in=Incident.OPEN_STATUSES
    ).exists()


@transaction.atomic
def accept_signal(
    *,
    integration: MonitoringIntegration,
    code: str,
    dedup_key: str,
    description: str,
    customers: list[str],
    title: str = "",
    category: str = "",
) -> SignalReceipt:
    """Check a signal and queue it for the cluster, which opens or joins the incident.

    What the catalogue cannot place is refused here, so the monitoring
    system hears of it at once: an unknown code, or a signal that would
    open an incident without a category. The rest waits in the queue.
    """
    signal = _active_signal(code)
    named = category.strip().lower()
    placeable = (
        Category.objects.filter(slug=named, is_active=True).exists()
        if named
        else signal.category_id is not None and signal.category.is_active
    )
    if not placeable and not _key_has_open_incident(dedup_key):
        _named_category(signal, category)  # raises, naming what is missing
    receipt = SignalReceipt.objects.create(
        integration=integration,
        signal=signal,
        dedup_key=dedup_key,
        description=description,
        title=title,
        category=named,
        requested_customers=customers,
        received_at=timezone.now(),
    )
    receipt_id = receipt.pk
    transaction.on_commit(lambda: async_task("comms.tasks.process_signal", receipt_id))
    return receipt


def process_signal(*, receipt_id: int) -> SignalReceipt | None:
    """Open or join the incident for a queued signal, once.

    Returns None when there is nothing to do: the receipt is already
    processed, or another worker holds it. A signal the catalogue can no
    longer place is marked failed with the reason, never retried forever.
    """
    with transaction.atomic():
        receipt = (
            SignalReceipt.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("integration", "signal__category")
            .filter(pk=receipt_id, status=SignalReceipt.Status.QUEUED)
            .first()
        )
        if receipt is None:
            return None
        try:
            with transaction.atomic():
                _apply_signal(receipt)
        except ValidationError as exc:
            receipt.status = SignalReceipt.Status.FAILED
            receipt.error = " ".join(exc.messages)
            logger.warning(
                "Signal receipt %s (%s) failed: %s",
                receipt.pk,
                receipt.dedup_key,
                receipt.error,
            )
        else:
            receipt.status = SignalReceipt.Status.PROCESSED
        receipt.processed_at = timezone.now()
        receipt.save()
    return receipt


# Receipts the sweep processes itself when their task went missing; the
# rest wait for the next sweep, so one sweep stays short after an outage.
LOST_SIGNALS_PER_SWEEP = 500


def due_work(now: dt.datetime) -> dict:
    """Process signals whose task was lost (queued longer than a task takes)."""
    lost_before = now - dt.timedelta(seconds=settings.COMMS_LOST_TASK_SECONDS)
    waiting = list(
        SignalReceipt.objects.filter(
            status=SignalReceipt.Status.QUEUED, received_at__lt=lost_before
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:LOST_SIGNALS_PER_SWEEP]
    )
    processed = sum(
        process_signal(receipt_id=receipt_id) is not None for receipt_id in waiting
    )
    return {"signals_recovered": processed}


def _apply_signal(receipt: SignalReceipt) -> None:
    """Open a proactive incident for the receipt's signal, or add it to the open one."""
    signal = receipt.signal
    found, unknown = _customers(receipt.requested_customers)
    key = _key_row(receipt.dedup_key)
    incident = None
    if key.incident_id:
        incident = Incident.objects.filter(
            pk=key.incident_id, status__in=Incident.OPEN_STATUSES
        ).first()
    opened = incident is None
    if opened:
        policy = incident_services.policy_for(found[0] if len(found) == 1 else None)
        chosen = _category(signal, receipt.category, policy)
        systemic = len(found) != 1 and (
            not found or len(found) > policy.systemic_threshold
        )
        incident = incident_services.open_incident(
            actor=None,
            title=(receipt.title.strip() or f"{signal.code}: {signal.description}")[
                :200
            ],
            priority=signal.priority,
            category=chosen,
            what_happened=receipt.description,
            customer=None if systemic else (found[0] if found else None),
            is_systemic=systemic,
            signal=signal,
        )
        if systemic:
            incident = _make_systemic(incident, found)
    else:
        affected = {incident.customer_id} | set(
            incident.affected_customers.values_list("customer_id", flat=True)
        )
        everyone = affected | {c.pk for c in found}
        everyone.discard(None)
        if incident.is_systemic or len(everyone) > incident.policy.systemic_threshold:
            incident = _make_systemic(incident, found)
    key.incident = incident
    key.save(update_fields=["incident", "updated_at"])
    receipt.incident = incident
    receipt.opened_incident = opened
    receipt.affected = [c.account_id for c in found]
    receipt.unknown_customers = unknown
    incident_services.record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.SIGNAL_RECEIVED,
        actor=None,
        at=receipt.received_at,
        details={
            "signal": signal.code,
            "dedup_key": receipt.dedup_key,
            "integration": receipt.integration.name,
            "opened": opened,
            "affected": receipt.affected[:100],
            "unknown": unknown[:100],
            "description": receipt.description[:500],
        },
    )
