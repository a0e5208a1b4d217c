from django import template

from comms import selectors

register = template.Library()


@register.inclusion_tag("comms/_portal_ahead.html", takes_context=True)
def portal_ahead(context, incident):
    """What the portal will send about ``incident`` by itself, and when."""
    return {
        "ahead": list(selectors.portal_messages_ahead(incident=incident)[:3]),
        "incident": incident,
        "perms": context.get("perms"),
        "csrf_token": context.get("csrf_token"),
    }
