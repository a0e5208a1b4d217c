"""Delivery backends, chosen in settings like Django's e-mail backends.

E-mail goes through Django's mail system (EMAIL_URL). Chat goes to an
incoming webhook per channel in the common JSON shape ({"text": …}); the
log backend stands in during development. Internal notes stay on the
incident and need no delivery.
"""

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

from . import mail_threads

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The channel did not accept the message; worth retrying."""


class EmailChannel:
    """One e-mail per customer, so no customer sees another's address.

    Partners and vendors get one e-mail to all their addresses. Addresses in
    ``message.delivered_to`` already have it and are skipped on a retry.
    """

    def send(self, message, *, chat_webhook_url: str = "", on_delivered=None) -> None:
        pending = [r for r in message.recipients if r not in message.delivered_to]
        if message.audience == "customer":
            batches = [[address] for address in pending]
        else:
            batches = [pending] if pending else []
        for batch in batches:
            self._send_one(message, batch)
            if on_delivered is not None:
                on_delivered(batch)

    def _send_one(self, message, to: list[str]) -> None:
        position = message.recipients.index(to[0])
        # A stable Message-ID (one per recipient) lets mail systems drop a
        # duplicate if a retry ever resends what a dead worker had handed over.
        suffix = f"-{position + 1}" if position else ""
        # Replies thread back by this Message-ID, or by the signed reply
        # address where one is configured (comms/mail_threads.py).
        reply_to = mail_threads.reply_address(message.pk)
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=to,
            reply_to=[reply_to] if reply_to else None,
            headers={
                "Message-ID": mail_threads.message_id_header(message.pk, suffix),
                "X-Switchboard-Incident": message.incident.reference,
            },
        )
        try:
            email.send(fail_silently=False)
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"E-mail not accepted: {exc}") from exc


class WebhookChatChannel:
    def send(self, message, *, chat_webhook_url: str = "", on_delivered=None) -> None:
        url = chat_webhook_url or settings.CHAT_WEBHOOK_URL
        if not url:
            raise DeliveryError(
                "No webhook address for this chat channel; set one on its chat "
                "route or CHAT_WEBHOOK_URL."
            )
        payload = json.dumps(
            {
                "text": message.body,
                "channel": ", ".join(message.recipients),
                "username": "Switchboard",
                "idempotency_key": f"switchboard-message-{message.pk}",
            }
        ).encode()
        request = urllib.request.Request(
            url,
            data=payload,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(
                request, timeout=settings.CHAT_WEBHOOK_TIMEOUT
            ) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"Chat webhook answered {exc.code}.") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"Chat webhook unreachable: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"Chat webhook answered {status}.")


class LogChatChannel:
    def send(self, message, *, chat_webhook_url: str = "", on_delivered=None) -> None:
        logger.info("chat to %s: %s", ", ".join(message.recipients), message.body)


class NoteChannel:
    def send(self, message, *, chat_webhook_url: str = "", on_delivered=None) -> None:
        """Notes live on the incident; delivering one is storing it."""


def backend_for(channel: str):
    path = settings.COMMS_CHANNEL_BACKENDS[channel]
    return import_string(path)()
