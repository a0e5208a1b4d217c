"""Schedule the per-minute sweep in the django-q2 cluster."""

from django.db import migrations


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="Switchboard sweep",
        defaults={
            "func": "portal.tasks.run_due_work",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="Switchboard sweep"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_roles_for_comms"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
