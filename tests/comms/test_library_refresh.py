"""Migration 0006 brings untouched default templates to the current wording."""

import importlib

import pytest
from django.apps import apps

from comms.library import LIBRARY
from comms.models import MessageTemplate, MessageTemplateVersion
from tests.factories import UserFactory

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


def _shipped(key):
    return next(entry for entry in LIBRARY if entry["key"] == key)


def _add_version(template, body, created_by=None):
    version = MessageTemplateVersion.objects.create(
        template=template,
        number=template.current_version.number + 1,
        subject=template.current_version.subject,
        body=body,
        created_by=created_by,
    )
    template.current_version = version
    template.save()
    return version


@pytest.mark.django_db
def test_an_untouched_default_template_gets_the_new_wording():
    template = MessageTemplate.objects.get(key="customer-initial")
    _add_version(template, "Old shipped text: {{ incident.what_happened }}")

    refresh(apps, None)

    template.refresh_from_db()
    assert template.current_version.body == _shipped("customer-initial")["body"]
    assert template.current_version.number == 3


@pytest.mark.django_db
def test_a_template_an_admin_edited_is_left_alone():
    template = MessageTemplate.objects.get(key="customer-initial")
    edited = _add_version(template, "Our own words.", created_by=UserFactory())

    refresh(apps, None)

    template.refresh_from_db()
    assert template.current_version == edited
