from django import template

from portal.jinja2 import render_incident_tabs

register = template.Library()


@register.simple_tag(takes_context=True)
def incident_tabs(context, incident, tab):
    """The strip of an incident's tabs, with the hold and what the portal
    will send by itself (a page that already read the hold hands it on as
    ``contact_hold``)."""
    return render_incident_tabs(
        context["request"], incident, tab, contact_hold=context.get("contact_hold")
    )
