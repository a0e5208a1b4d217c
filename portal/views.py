"""The home page: one place that reads every app for the day's work."""

from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from comms import selectors as comms_selectors
from escalations import selectors as escalation_selectors
from incidents import selectors as incident_selectors
from incidents.sla import CLOCK_STATE_LABELS
from incidents.templatetags.incident_display import person
from portal.jinja2 import render_body


@require_GET
def my_work(request):
    """Show what the signed-in person should do next, most urgent first."""
    now = timezone.now()
    mine = incident_selectors.incidents_owned_by(request.user)
    can_approve = request.user.has_perm("comms.approve_message")
    context = {
        "now": now,
        "mine": [
            (incident, incident_selectors.incident_clocks(incident, now))
            for incident in mine
        ],
        "updates_due": comms_selectors.updates_due(mine, now=now)[:15],
        # For managers, everything the portal is about to send; for others,
        # what it will send about their own incidents.
        "portal_ahead": list(
            comms_selectors.portal_messages_ahead(
                owner=None if can_approve else request.user
            )[:10]
        ),
        "unassigned": incident_selectors.unassigned_incidents(),
        "my_messages": list(comms_selectors.messages_needing(request.user)[:10]),
        "failed": list(
            comms_selectors.failed_deliveries(
                owner=None if can_approve else request.user
            )[:10]
        ),
        "approvals": list(comms_selectors.approval_queue()[:10]) if can_approve else [],
        # Post-mortem actions past their deadline: one's own, or everyone's for
        # those who review post-mortems.
        "overdue_actions": incident_selectors.overdue_action_items(
            now=now,
            owner=None
            if request.user.has_perm("incidents.publish_postmortem")
            else request.user,
        ),
    }
    context["decisions"] = _decisions_waiting(request.user, context["approvals"], now)
    return render(
        request,
        "portal/my_work.html",
        {**context, "body": render_body(request, "portal/my_work_body.jinja", context)},
    )


def _sla_line(incident, now) -> str:
    """Where the incident stands against its resolution target, in words."""
    if not incident.resolution_due_at:
        return ""
    state = incident_selectors.incident_clocks(incident, now)["resolution"]
    due = timezone.localtime(incident.resolution_due_at)
    return f"SLA: {CLOCK_STATE_LABELS[state].lower()}, resolve by {due:%b %-d, %H:%M}"


def _message_rows(messages) -> list[dict]:
    """Messages waiting for approval, with who gets them and whether the
    incident is a security incident customers may not hear about yet."""
    held = incident_selectors.security_awaiting_legal({m.incident_id for m in messages})
    rows = []
    for m in messages:
        recipients = ", ".join(m.recipients[:10]) if m.recipients else "nobody yet"
        if len(m.recipients) > 10:
            recipients += f" and {len(m.recipients) - 10:,} more"
        rows.append(
            {
                "kind": "Message",
                "since": m.created_at,
                "incident": m.incident,
                "title": f"{m.get_audience_display()}: {m.subject or m.body}"[:120],
                "lines": [
                    f"To {m.party.name}: {recipients}"
                    if m.party_id
                    else f"To {recipients}",
                    f"Written by {person(m.created_by)}",
                    "Security incident: Legal has not approved telling customers, "
                    "so this cannot leave yet"
                    if m.incident_id in held and m.audience == "customer"
                    else "",
                ],
                "url": reverse("comms:approvals") + f"#message-{m.pk}",
            }
        )
    return rows


def _decisions_waiting(user, messages, now) -> list[dict]:
    """Every decision waiting for this person, oldest first, each with what
    is needed to make it without opening another page."""
    rows = _message_rows(messages) if messages else []
    if user.has_perm("escalations.approve_escalation"):
        waiting = [
            e
            for e in escalation_selectors.escalation_approvals()[:20]
            if e.requested_by_id != user.pk
        ]
        matched = escalation_selectors.rules_matched_on_request(waiting)
        for e in waiting:
            rules = matched.get(e.pk) or ([e.rule.name] if e.rule_id else [])
            rows.append(
                {
                    "kind": "Escalation",
                    "since": e.created_at,
                    "incident": e.incident,
                    "title": f"To {e.to_tier.name} · {e.get_urgency_display()}",
                    "lines": [
                        e.summary,
                        "Tried: "
                        + "; ".join(
                            step.strip()
                            for step in e.tried.splitlines()
                            if step.strip()
                        )
                        if e.tried.strip()
                        else "",
                        f"Refund asked: {e.refund_amount}"
                        if e.refund_amount is not None
                        else "",
                        f"Approval asked by the rule “{e.rule.name}”"
                        if e.rule_id
                        else "",
                        "Rules that matched: " + "; ".join(rules)
                        if len(rules) > 1
                        else "",
                        f"Customer: {e.get_sentiment_display()}",
                        _sla_line(e.incident, now),
                    ],
                    "url": reverse("escalations:approvals") + f"#escalation-{e.pk}",
                }
            )
    for credit in escalation_selectors.credits_to_decide(user)[:20]:
        rows.append(
            {
                "kind": "Credit",
                "since": credit.requested_at,
                "incident": credit.incident,
                "title": f"{credit.get_kind_display()} of {credit.amount} "
                f"{credit.currency} for {credit.customer.name}",
                "lines": [credit.reason],
                "url": reverse("escalations:credit_queue") + f"#credit-{credit.pk}",
            }
        )
    if user.has_perm("incidents.publish_postmortem"):
        for pm in incident_selectors.postmortems_in_review()[:20]:
            if user.pk in (pm.created_by_id, pm.submitted_by_id):
                continue
            rows.append(
                {
                    "kind": "Post-mortem",
                    "since": pm.submitted_at or pm.updated_at,
                    "incident": pm.incident,
                    "title": "Review and publish",
                    "lines": [pm.summary[:200]],
                    "url": reverse("incidents:postmortem", args=[pm.incident_id]),
                }
            )
    if user.has_perm("incidents.approve_communicationplan"):
        for plan in incident_selectors.plans_in_review()[:20]:
            if user.pk in (plan.created_by_id, plan.submitted_by_id):
                continue
            rows.append(
                {
                    "kind": "Communication plan",
                    "since": plan.submitted_at or plan.updated_at,
                    "incident": plan.incident,
                    "title": "Approve or send back",
                    "lines": [
                        f"Version {plan.version} · {plan.row_count} row"
                        f"{pluralize(plan.row_count)} · reviewed "
                        f"{plan.get_review_cycle_display().lower()}",
                        f"Submitted by {person(plan.submitted_by)}"
                        if plan.submitted_by_id
                        else "",
                        f"Owner: {person(plan.owner)}" if plan.owner_id else "",
                    ],
                    "url": reverse("incidents:plan", args=[plan.incident_id]),
                }
            )
    if user.has_perm("incidents.record_legal_approval"):
        for response in incident_selectors.legal_approvals_waiting()[:20]:
            rows.append(
                {
                    "kind": "Legal approval",
                    "since": response.flagged_at,
                    "incident": response.incident,
                    "title": "Security incident: customers hear nothing until "
                    "Legal approves",
                    "lines": [response.get_incident_type_display()],
                    "url": reverse("incidents:security", args=[response.incident_id]),
                }
            )
    rows.sort(key=lambda row: row["since"])
    for row in rows:
        row["lines"] = [line for line in row["lines"] if line]
    return rows
