"""Load the default message template library (comms/library.py) once."""

from django.db import migrations


def load(apps, schema_editor):
    from comms.library import LIBRARY

    MessageTemplate = apps.get_model("comms", "MessageTemplate")
    MessageTemplateVersion = apps.get_model("comms", "MessageTemplateVersion")
    for entry in LIBRARY:
        entry = dict(entry)
        subject, body = entry.pop("subject"), entry.pop("body")
        template, created = MessageTemplate.objects.get_or_create(
            key=entry.pop("key"), defaults=entry
        )
        if not created:
            continue
        version = MessageTemplateVersion.objects.create(
            template=template, number=1, subject=subject, body=body
        )
        template.current_version = version
        template.save(update_fields=["current_version"])


class Migration(migrations.Migration):
    dependencies = [("comms", "0001_template_library")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
