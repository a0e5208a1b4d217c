from django import template

from comms import selectors
from comms.services import outbound

register = template.Library()


@register.inclusion_tag("comms/_portal_ahead.html", takes_context=True)
def portal_ahead(context, incident):
    """What the portal will send about ``incident`` by itself, and when, and
    whether the security hold keeps customers from hearing anything."""
    # A page that already read the hold (compose) hands it on.
    hold_kind, hold = context.get("contact_hold") or outbound.customer_contact_hold(
        incident
    )
    return {
        # Said on every tab: while it holds, no customer message leaves.
        "hold": hold,
        "hold_kind": hold_kind,
        "ahead": list(selectors.portal_messages_ahead(incident=incident)[:3]),
        "incident": incident,
        "perms": context.get("perms"),
        "csrf_token": context.get("csrf_token"),
    }
