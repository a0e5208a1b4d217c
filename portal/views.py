"""The home page: one place that reads every app for the day's work."""

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from comms import selectors as comms_selectors
from incidents import selectors as incident_selectors


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
    return render(request, "portal/my_work.html", context)
