"""Mail and signals waiting for a person or for the cluster."""

from django.db.models import QuerySet

from ..models import (
    InboundMail,
    SignalReceipt,
)


def unmatched_mail() -> QuerySet:
    """Return e-mail that found no incident, newest first, for triage."""
    return InboundMail.objects.filter(status=InboundMail.Status.UNMATCHED).order_by(
        "-received_at", "-id"
    )


def unmatched_mail_count() -> int:
    return InboundMail.objects.filter(status=InboundMail.Status.UNMATCHED).count()


def signal_queue_counts() -> dict[str, int]:
    """Signals waiting for the cluster and signals it could not apply (to 1,001)."""
    receipts = SignalReceipt.objects.order_by()
    return {
        "waiting": receipts.filter(status=SignalReceipt.Status.QUEUED)[:1001].count(),
        "failed": receipts.filter(status=SignalReceipt.Status.FAILED)[:1001].count(),
    }
