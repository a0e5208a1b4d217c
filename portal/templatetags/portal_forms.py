import uuid

from django import template
from django.utils.html import format_html

from portal.actions import FORM_KEY_FIELD

register = template.Library()


@register.simple_tag
def form_key():
    """A hidden one-time key, so that this rendered form acts at most once."""
    return format_html(
        '<input type="hidden" name="{}" value="{}">', FORM_KEY_FIELD, uuid.uuid4().hex
    )
