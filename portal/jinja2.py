"""The Jinja2 environment for the few hot pages rendered with Jinja2.

Pages use Django templates. A page whose profile shows template rendering
dominating its cost may render its body with Jinja2 (about five times
faster here) inside the Django base layout; see incidents.views.
The filters below behave as Django's template filters of the same name,
including showing times in the reader's zone.
"""

from django.contrib.humanize.templatetags.humanize import intcomma
from django.template import defaultfilters
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime
from jinja2 import Environment, StrictUndefined

from incidents.sla import span
from incidents.templatetags import incident_display
from incidents.timeline import as_local_time
from portal.reversing import url_for


def _date(value, fmt=None):
    return defaultfilters.date(template_localtime(value), fmt)


def _portal_ahead(incident, contact_hold=None) -> tuple[str, str, list]:
    """What stops customer messages on ``incident`` (kind, why) and the
    next three the portal will send about it by itself. ``contact_hold``:
    the hold, when the page already read it."""
    # Imported here: the incidents app's views load this module, and comms
    # imports incidents.
    from comms import selectors
    from comms.services import outbound

    hold_kind, hold = contact_hold or outbound.customer_contact_hold(incident)
    ahead = list(selectors.portal_messages_ahead(incident=incident)[:3])
    return hold_kind, hold, ahead


def environment(**options):
    """Return the Jinja2 environment: Django's URLs, static files and filters."""
    options["undefined"] = StrictUndefined
    env = Environment(**options)
    env.globals.update(url=url_for, static=static, portal_ahead=_portal_ahead)
    env.filters.update(
        date=_date,
        timesince=defaultfilters.timesince_filter,
        timeuntil=defaultfilters.timeuntil_filter,
        pluralize=defaultfilters.pluralize,
        capfirst=defaultfilters.capfirst,
        intcomma=intcomma,
        yesno=defaultfilters.yesno,
        truncatechars=defaultfilters.truncatechars,
        clock_badge=incident_display.clock_badge,
        clock_label=incident_display.clock_label,
        priority_badge=incident_display.priority_badge,
        person=incident_display.person,
        change_rows=incident_display.change_rows,
        local_time=as_local_time,
        span=span,
    )
    return env


def render_body(request, template_name: str, context: dict) -> SafeString:
    """Render a hot page's body with Jinja2, for a Django layout to wrap.

    The body also gets ``permissions`` (the reader's, loaded once) and
    ``csrf_field`` (one masked token for all its forms, as {% csrf_token %}
    gives).
    """
    context = {
        **context,
        "permissions": request.user.get_all_permissions(),
        "csrf_field": csrf_input(request),
    }
    # Jinja2 escaped the body as it rendered it.
    return mark_safe(render_to_string(template_name, context, request, using="jinja2"))


def render_incident_tabs(
    request, incident, tab: str, *, contact_hold=None
) -> SafeString:
    """Render the strip of an incident's tabs, ``tab`` the current one."""
    return render_body(
        request,
        "comms/_incident_tabs.jinja",
        {"incident": incident, "tab": tab, "contact_hold": contact_hold},
    )
