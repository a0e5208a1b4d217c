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


def environment(**options):
    """Return the Jinja2 environment: Django's URLs, static files and filters."""
    options["undefined"] = StrictUndefined
    env = Environment(**options)
    env.globals.update(url=url_for, static=static)
    env.filters.update(
        date=_date,
        timesince=defaultfilters.timesince_filter,
        timeuntil=defaultfilters.timeuntil_filter,
        pluralize=defaultfilters.pluralize,
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
