"""Bring untouched default templates up to the current library's wording.

Customer templates no longer use internal notes (what happened, root cause)
and promise updates at the policy's own cadence. A template an admin has
edited (any version with an author) is left alone: the admin owns it.
"""

from django.db import migrations


def refresh(apps, schema_editor):
    from comms.library import LIBRARY

    MessageTemplate = apps.get_model("comms", "MessageTemplate")
    MessageTemplateVersion = apps.get_model("comms", "MessageTemplateVersion")
    for entry in LIBRARY:
        template = (
            MessageTemplate.objects.filter(key=entry["key"])
            .select_related("current_version")
            .first()
        )
        if template is None or template.current_version is None:
            continue
        if template.versions.filter(created_by__isnull=False).exists():
            continue
        current = template.current_version
        if (current.subject, current.body) == (entry["subject"], entry["body"]):
            continue
        version = MessageTemplateVersion.objects.create(
            template=template,
            number=current.number + 1,
            subject=entry["subject"],
            body=entry["body"],
        )
        template.current_version = version
        template.save(update_fields=["current_version"])


class Migration(migrations.Migration):
    dependencies = [("comms", "0005_party_contacts_and_per_recipient_delivery")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
