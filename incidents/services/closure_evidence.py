"""What the closure checklist reads: the incident's facts and the evidence on
its timeline.

Evidence comes only from the incident's own fields and its timeline: comms,
credits, escalations and post-mortems write timeline events and this code
reads them, so incidents imports neither app."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone

from ..models import (
    ChecklistCondition,
    ChecklistEvidence,
    ChecklistTemplate,
    ChecklistTemplateItem,
    Incident,
    IncidentChecklist,
    IncidentChecklistItem,
    Priority,
    ResolutionVerification,
    SecurityPhaseKind,
    TimelineEvent,
)
from .tags import standard_tags

Evidence = ChecklistEvidence


Condition = ChecklistCondition


# Timeline kinds the checklist reads, in one query per evaluation.
_CLOSURE_EVENT_KINDS = (
    TimelineEvent.Kind.REOPENED,
    TimelineEvent.Kind.RESOLUTION_RECORDED,
    TimelineEvent.Kind.MESSAGE_SENT,
    TimelineEvent.Kind.REPLY_LOGGED,
    TimelineEvent.Kind.REPLY_RECEIVED,
    TimelineEvent.Kind.CREDIT_REQUESTED,
    TimelineEvent.Kind.CREDIT_APPLIED,
    TimelineEvent.Kind.CREDIT_REJECTED,
    TimelineEvent.Kind.CREDIT_CANCELLED,
    TimelineEvent.Kind.ESCALATION_REQUESTED,
    TimelineEvent.Kind.ESCALATION_TRIGGERED,
    TimelineEvent.Kind.POSTMORTEM_CHANGED,
    TimelineEvent.Kind.SECURITY_FLAGGED,
    TimelineEvent.Kind.SECURITY_PHASE_DONE,
)


_REPLY_KINDS = (TimelineEvent.Kind.REPLY_LOGGED, TimelineEvent.Kind.REPLY_RECEIVED)


_CREDIT_SETTLED_KINDS = {
    TimelineEvent.Kind.CREDIT_APPLIED,
    TimelineEvent.Kind.CREDIT_REJECTED,
    TimelineEvent.Kind.CREDIT_CANCELLED,
}


# Conditions that a timeline event makes true, for the sweep's cheap filter.
CONDITION_EVENT_KINDS = {
    Condition.CREDIT_REQUESTED: [TimelineEvent.Kind.CREDIT_REQUESTED],
    Condition.ESCALATED: [
        TimelineEvent.Kind.ESCALATION_REQUESTED,
        TimelineEvent.Kind.ESCALATION_TRIGGERED,
    ],
    Condition.SECURITY: [TimelineEvent.Kind.SECURITY_FLAGGED],
}


# Evidence that belongs to one resolution: a recurrence or a reopening
# takes these ticks back, since the next resolution must earn them again.
EVIDENCE_OF_ONE_RESOLUTION = {
    Evidence.ROOT_CAUSE_RECORDED,
    Evidence.RESOLUTION_VERIFIED,
    Evidence.RESOLUTION_MESSAGE_SENT,
    Evidence.PARTY_CONFIRMED,
    Evidence.CUSTOMER_CONFIRMED_OR_72H,
    Evidence.MONITORING_WINDOW_PASSED,
    Evidence.MONITORING_CHECK_SCHEDULED,
    Evidence.INTERNAL_NOTE_POSTED,
    Evidence.TAGS_UPDATED,
}


DEFAULT_MONITORING_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class _Event:
    kind: str
    at: dt.datetime
    details: dict


@dataclass
class ClosureFacts:
    """What the checklist may read about one incident at one moment."""

    incident: Incident
    now: dt.datetime
    events: list[_Event]
    # Evidence of a resolution counts only after the latest reopening.
    since: dt.datetime | None

    def after_since(self) -> list[_Event]:
        if self.since is None:
            return self.events
        return [e for e in self.events if e.at >= self.since]

    def has_event(self, kinds) -> bool:
        return any(e.kind in kinds for e in self.events)


def closure_facts(incident: Incident, now: dt.datetime | None = None) -> ClosureFacts:
    """Return the incident's closure evidence, read in one query."""
    events = [
        _Event(kind, at, details or {})
        for kind, at, details in TimelineEvent.objects.filter(
            incident=incident, kind__in=_CLOSURE_EVENT_KINDS
        )
        .order_by("created_at", "id")
        .values_list("kind", "created_at", "details")
    ]
    reopenings = [e.at for e in events if e.kind == TimelineEvent.Kind.REOPENED]
    return ClosureFacts(
        incident=incident,
        now=now or timezone.now(),
        events=events,
        since=reopenings[-1] if reopenings else None,
    )


def condition_holds(condition: str, facts: ClosureFacts) -> bool:
    """Return whether a checklist condition holds for the incident."""
    incident = facts.incident
    if condition == Condition.ALWAYS:
        return True
    if condition == Condition.PARTNER_INVOLVED:
        return incident.is_partner_action_needed
    if condition == Condition.VENDOR_INVOLVED:
        return incident.is_vendor_action_needed
    if condition == Condition.MAJOR:
        return incident.priority in (Priority.P1, Priority.P2) or incident.is_systemic
    if condition == Condition.FINANCIAL_IMPACT:
        return bool(incident.amount_paid)
    if condition in CONDITION_EVENT_KINDS:
        return facts.has_event(CONDITION_EVENT_KINDS[condition])
    return False


def _sent(facts: ClosureFacts, *, audience: str, stage: str, since: bool = True):
    events = facts.after_since() if since else facts.events
    return [
        e
        for e in events
        if e.kind == TimelineEvent.Kind.MESSAGE_SENT
        and e.details.get("audience") == audience
        and e.details.get("stage") == stage
        # A status page post tells the public, not this customer or party.
        and e.details.get("channel") != "status_page"
    ]


def _replies(facts: ClosureFacts, *, sender: str, after: dt.datetime | None):
    return [
        e
        for e in facts.after_since()
        if e.kind
        in (TimelineEvent.Kind.REPLY_LOGGED, TimelineEvent.Kind.REPLY_RECEIVED)
        and e.details.get("from") == sender
        and (after is None or e.at >= after)
    ]


def evidence_found(
    item: ChecklistTemplateItem | IncidentChecklistItem, facts: ClosureFacts
) -> tuple[str, dt.datetime] | None:
    """Return (what shows the item is done, when), or None without evidence."""
    incident, now = facts.incident, facts.now
    kind = item.evidence
    if kind == Evidence.ROOT_CAUSE_RECORDED:
        if incident.root_cause.strip():
            text = incident.root_cause.strip().splitlines()[0]
            return f"Root cause: {text[:200]}", incident.resolved_at or now
    elif kind == Evidence.RESOLUTION_VERIFIED:
        for event in reversed(facts.after_since()):
            if event.kind == TimelineEvent.Kind.RESOLUTION_RECORDED and (
                event.details.get("verification")
            ):
                labels = [
                    ResolutionVerification(v).label.lower()
                    for v in event.details["verification"]
                    if v in ResolutionVerification.values
                ]
                return f"Verified by {', '.join(labels)}", event.at
    elif kind == Evidence.RESOLUTION_MESSAGE_SENT:
        sent = _sent(facts, audience=item.audience, stage="resolution")
        if sent:
            subject = sent[-1].details.get("subject") or "(no subject)"
            return (
                f"{item.audience.capitalize()} resolution message sent: {subject}",
                sent[-1].at,
            )
    elif kind == Evidence.PARTY_CONFIRMED:
        sent = _sent(facts, audience=item.audience, stage="resolution")
        if sent:
            replies = _replies(facts, sender=item.audience, after=sent[0].at)
            if replies:
                return (
                    f"{item.audience.capitalize()} replied after the resolution "
                    "message",
                    replies[-1].at,
                )
    elif kind == Evidence.CUSTOMER_CONFIRMED_OR_72H:
        replies = _replies(facts, sender="customer", after=None)
        confirmed = [e for e in replies if e.details.get("confirmed")]
        if confirmed:
            return "Customer confirmed it works", confirmed[-1].at
        resolved_at = incident.resolved_at
        if resolved_at is not None:
            replied_since = [e for e in replies if e.at >= resolved_at]
            waited_until = resolved_at + dt.timedelta(hours=item.wait_hours)
            if not replied_since and now >= waited_until:
                return (
                    f"{item.wait_hours} h passed after resolving with no reply",
                    waited_until,
                )
    elif kind == Evidence.MONITORING_WINDOW_PASSED:
        ends = incident.monitoring_ends_at
        if ends is not None and now >= ends:
            return "Monitoring window ended without a recurrence", ends
    elif kind == Evidence.MONITORING_CHECK_SCHEDULED:
        if incident.monitoring_ends_at is not None:
            return (
                "The monitoring window set on resolving is the check",
                incident.resolved_at or now,
            )
    elif kind == Evidence.INTERNAL_NOTE_POSTED:
        notes = [
            e
            for e in _sent(facts, audience="internal", stage="resolution")
            if e.details.get("channel") == "note"
        ]
        if notes:
            return "Internal resolution note posted", notes[-1].at
    elif kind == Evidence.ESCALATION_CHECK_CONFIRMED:
        for event in facts.events:
            if event.kind != TimelineEvent.Kind.ESCALATION_REQUESTED:
                continue
            if item.check_text in event.details.get("checks_confirmed", ()):
                return "Confirmed on the Escalate page", event.at
            why_not = event.details.get("checks_explained", {}).get(item.check_text)
            if why_not:
                return f"Explained on the Escalate page: {why_not}"[:300], event.at
    elif kind == Evidence.ESCALATION_NOTICE_SENT:
        sent = _sent(facts, audience="customer", stage="escalation", since=False)
        if sent:
            return "Customer told of the escalation", sent[-1].at
    elif kind == Evidence.CREDITS_SETTLED:
        requested: dict[Any, dt.datetime] = {}
        settled: dict[Any, dt.datetime] = {}
        for event in facts.events:
            credit = event.details.get("credit")
            if event.kind == TimelineEvent.Kind.CREDIT_REQUESTED:
                requested[credit] = event.at
            elif event.kind in _CREDIT_SETTLED_KINDS and credit in requested:
                settled[credit] = event.at
        if not requested:
            return "No credit or refund was requested", incident.resolved_at or now
        if set(requested) <= set(settled):
            count = len(requested)
            return (
                f"{count} credit{'s' if count > 1 else ''} settled",
                max(settled.values()),
            )
    elif kind == Evidence.POSTMORTEM_SCHEDULED:
        changes = [
            e for e in facts.events if e.kind == TimelineEvent.Kind.POSTMORTEM_CHANGED
        ]
        if changes:
            latest = changes[-1]
            if latest.details.get("status") == "published":
                return "Post-mortem published", latest.at
            if latest.details.get("scheduled_on"):
                return (
                    f"Post-mortem scheduled for {latest.details['scheduled_on']}",
                    latest.at,
                )
    elif kind == Evidence.SECURITY_PHASES_DONE:
        done = {
            e.details.get("phase"): e.at
            for e in facts.events
            if e.kind == TimelineEvent.Kind.SECURITY_PHASE_DONE
        }
        if all(phase in done for phase in SecurityPhaseKind.values):
            return (
                "Every security phase done, lessons learned included",
                max(done[phase] for phase in SecurityPhaseKind.values),
            )
    elif kind == Evidence.LEGAL_APPROVED:
        for event in reversed(facts.events):
            if (
                event.kind == TimelineEvent.Kind.SECURITY_PHASE_DONE
                and event.details.get("phase") == "legal_approval"
            ):
                return (
                    f"Legal approved ({event.details.get('approver') or 'Legal'})",
                    event.at,
                )
    elif kind == Evidence.TAGS_UPDATED:
        # The portal keeps these two tags itself (standard_tags); reading
        # what they are for the current status also serves a status change
        # being saved in the same step.
        tags = standard_tags(incident, now)
        if "resolved" in tags and "in_progress" not in tags:
            return "Tagged resolved, no longer in progress", incident.resolved_at or now
    return None


def _has_been_resolved(incident: Incident) -> bool:
    return incident.resolved_at is not None


def applicable_checklist_templates(incident: Incident, facts: ClosureFacts) -> list:
    templates = (
        ChecklistTemplate.objects.filter(is_active=True)
        .filter(Q(policy__isnull=True) | Q(policy_id=incident.policy_id))
        .prefetch_related(
            Prefetch(
                "items",
                queryset=ChecklistTemplateItem.objects.filter(is_active=True),
            )
        )
    )
    return [
        t
        for t in templates
        if condition_holds(t.condition, facts)
        and (not t.attaches_on_resolve or _has_been_resolved(incident))
    ]


def incident_checklists(incident: Incident) -> list[IncidentChecklist]:
    return list(
        IncidentChecklist.objects.filter(incident=incident)
        .select_related("template")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=IncidentChecklistItem.objects.select_related(
                    "settled_by"
                ).order_by("position", "id"),
            )
        )
    )


def checklist_item_details(
    item: IncidentChecklistItem, checklist_name: str, **extra
) -> dict:
    return {
        "checklist": checklist_name,
        "item": item.text,
        "item_id": item.pk,
        "group": item.group,
        **extra,
    }
