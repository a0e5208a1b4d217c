import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal.tasks import run_due_work


def _moment(text: str) -> dt.datetime:
    moment = parse_datetime(text)
    if moment is None:
        raise CommandError(f"“{text}” is not a date and time, e.g. 2026-12-01T09:30Z.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    return moment


class Command(BaseCommand):
    help = (
        "Run the scheduled sweep once (what the cluster runs every minute). "
        "--dry-run shows what would fire and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            type=_moment,
            default=None,
            help="Sweep as if it were this moment (ISO 8601; UTC if no zone). "
            "Mostly useful with --dry-run to see what fires later.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Do everything in a transaction and roll it back.",
        )

    def handle(self, *args, now=None, dry_run=False, **options):
        done = run_due_work(now, dry_run=dry_run)
        heading = "Would do" if dry_run else "Done"
        self.stdout.write(f"{heading}: {json.dumps(done, indent=2, sort_keys=True)}")
