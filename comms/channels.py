"""Delivery backends, chosen in settings like Django's e-mail backends.

E-mail goes through Django's mail system (EMAIL_URL). Chat goes to an
incoming webhook per channel in the common JSON shape ({"text": …}); the
log backend stands in during development. Internal notes stay on the
incident and need no delivery.
"""

import contextlib
import json
import logging
import smtplib
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.module_loading import import_string

from . import mail_threads

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The channel did not accept the message; worth retrying."""


class DeliveryPaused(Exception):
    """The task's share of a long send is done; the rest goes in another task
    (a cluster task is stopped after its timeout, mid-send)."""


class EmailChannel:
    """One e-mail per customer, so no customer sees another's address.

    Partners and vendors get one e-mail to all their addresses. Addresses in
    ``message.delivered_to`` already have it and are skipped on a retry; those
    a dead worker was handing over (``handing_over_to``, then ``in_doubt_to``)
    may have it and are skipped too.

    Customer e-mails go in chunks over one connection: before a chunk its
    addresses are recorded as being handed over (``on_handing_over``), after
    it as delivered (``on_delivered``), so a killed worker leaves at most one
    chunk in doubt and nothing is ever sent twice. An e-mail whose fate the
    server never told (the line dropped mid-send) is reported in doubt
    (``on_in_doubt``). ``budget()`` answering true ends this call's share with
    ``DeliveryPaused``.
    """

    def send(
        self,
        message,
        *,
        chat_webhook_url: str = "",
        on_delivered=None,
        on_handing_over=None,
        on_in_doubt=None,
        budget=None,
    ) -> None:
        skip = {
            address.lower()
            for address in [
                *message.delivered_to,
                *message.handing_over_to,
                *message.in_doubt_to,
            ]
        }
        pending = [r for r in message.recipients if r.lower() not in skip]
        if message.audience == "customer":
            batches = [[address] for address in pending]
        else:
            batches = [pending] if pending else []
        if not batches:
            return
        # The position gives each customer's e-mail its own stable Message-ID.
        positions = {}
        for position, address in enumerate(message.recipients):
            positions.setdefault(address, position)
        size = settings.COMMS_DELIVERY_CHUNK
        chunks = [batches[i : i + size] for i in range(0, len(batches), size)]
        session = _Session()
        try:
            for number, chunk in enumerate(chunks):
                if budget is not None and budget(number):
                    raise DeliveryPaused
                addresses = [address for batch in chunk for address in batch]
                if on_handing_over is not None:
                    on_handing_over(addresses)
                accepted: list[str] = []
                try:
                    for batch in chunk:
                        session.send(self._email(message, batch, positions[batch[0]]))
                        accepted += batch
                except _Unknown as exc:
                    if on_in_doubt is not None:
                        on_in_doubt(exc.to)
                    raise DeliveryError(f"E-mail not confirmed: {exc}") from exc
                finally:
                    # A refusal is not a doubt: what went before it went, the
                    # rest did not, and a retry sends the rest.
                    if on_delivered is not None:
                        on_delivered(accepted)
        except (OSError, ValueError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"E-mail not accepted: {exc}") from exc
        finally:
            session.close()

    def _email(self, message, to: list[str], position: int) -> EmailMessage:
        # A stable Message-ID (one per recipient) lets mail systems drop a
        # duplicate if a person ever resends what a dead worker had handed over.
        suffix = f"-{position + 1}" if position else ""
        # Replies thread back by this Message-ID, or by the signed reply
        # address where one is configured (comms/mail_threads.py).
        reply_to = mail_threads.reply_address(message.pk)
        return EmailMessage(
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


class _Unknown(Exception):
    """The mail server never said whether it took the e-mail to ``to``."""

    def __init__(self, to: list[str], cause: Exception):
        super().__init__(str(cause))
        self.to = to


class _Session:
    """One connection to the mail server, opened again when the server ends
    the session (many cap the e-mails per session, answering 421)."""

    def __init__(self):
        self.connection = None

    def send(self, email: EmailMessage) -> None:
        for again in (False, True):
            if self.connection is None:
                self.connection = get_connection()
                self.connection.open()
            try:
                sent = self.connection.send_messages([email])
            except smtplib.SMTPResponseException as exc:
                # An answer: not taken. 421 is "this session is over".
                self.close()
                if exc.smtp_code == 421 and not again:
                    continue
                raise
            except smtplib.SMTPRecipientsRefused:
                raise
            except (OSError, smtplib.SMTPException) as exc:
                # The line dropped with no answer: it may have been taken.
                self.close()
                raise _Unknown(email.to, exc) from exc
            if not sent:
                raise DeliveryError("E-mail not accepted by the mail server.")
            return

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None


class WebhookChatChannel:
    def send(self, message, *, chat_webhook_url: str = "", **_progress) -> None:
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
    def send(self, message, *, chat_webhook_url: str = "", **_progress) -> None:
        logger.info("chat to %s: %s", ", ".join(message.recipients), message.body)


class NoteChannel:
    def send(self, message, *, chat_webhook_url: str = "", **_progress) -> None:
        """Notes live on the incident; delivering one is storing it."""


def backend_for(channel: str):
    path = settings.COMMS_CHANNEL_BACKENDS[channel]
    return import_string(path)()
