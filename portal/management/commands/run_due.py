from django.core.management.base import BaseCommand

from portal.tasks import run_due_work


class Command(BaseCommand):
    help = "Run the scheduled sweep once now (what the cluster runs every minute)."

    def handle(self, *args, **options):
        self.stdout.write(str(run_due_work()))
