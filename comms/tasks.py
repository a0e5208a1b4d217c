"""django-q2 entry points for comms; each loads fresh rows and calls a service."""

import time

from django.conf import settings

from . import services


def deliver_message(message_id: int) -> str:
    """Deliver one queued message (a no-op if another worker already has)."""
    message = services.deliver_message(message_id=message_id)
    return message.status if message else "not claimed"


def deliver_messages(message_ids: list[int]) -> dict[int, str]:
    """Deliver several queued messages in turn; each is claimed on its own,
    and all share the task's time (what is left goes on in another task)."""
    deadline = time.monotonic() + settings.COMMS_DELIVERY_SLICE_SECONDS
    delivered = {}
    for message_id in message_ids:
        message = services.deliver_message(message_id=message_id, deadline=deadline)
        delivered[message_id] = message.status if message else "not claimed"
    return delivered


def process_signal(receipt_id: int) -> str:
    """Open or join the incident for one queued monitoring signal."""
    receipt = services.monitoring.process_signal(receipt_id=receipt_id)
    return receipt.status if receipt else "not claimed"
