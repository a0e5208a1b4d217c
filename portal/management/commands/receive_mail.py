"""Receive replies by SMTP and land them on their incidents.

Point the mail system's route for reply addresses (or a forwarding rule)
at this receiver. Every message is stored: those that thread land on
their incident, the rest wait on the triage list.
"""

import logging
import signal
import threading

from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand

from comms import mail_threads, services
from comms.models import InboundMail

logger = logging.getLogger(__name__)


class ReplyHandler:
    """aiosmtpd handler: parse the message and hand it to the service."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        try:
            return await self._land(envelope)
        except Exception:
            # Our internals stay here; the sender's server keeps the mail
            # and tries again later.
            logger.exception("Inbound mail from %s not stored", envelope.mail_from)
            return "451 4.3.0 Temporary failure; please try again later"

    async def _land(self, envelope) -> str:
        try:
            parsed = mail_threads.parse_raw(
                envelope.original_content or envelope.content
            )
        except (ValueError, LookupError):
            return "550 Unreadable message"
        if not parsed.from_address:
            parsed.from_address = envelope.mail_from or ""
        if not parsed.to_addresses:
            parsed.to_addresses = list(envelope.rcpt_tos)
        # The ORM is synchronous; run it off the event loop.
        await sync_to_async(services.receive_email, thread_sensitive=False)(
            parsed=parsed, source=InboundMail.Source.SMTP
        )
        return "250 Message accepted"


def receiver(host: str, port: int) -> Controller:
    """Return an SMTP receiver (not started) that lands replies."""
    return Controller(ReplyHandler(), hostname=host, port=port)


class Command(BaseCommand):
    help = "Receive e-mailed replies over SMTP and land them on their incidents."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)

    def handle(self, *args, host=None, port=None, **options):
        controller = receiver(
            host or settings.RECEIVE_MAIL_HOST, port or settings.RECEIVE_MAIL_PORT
        )
        controller.start()
        self.stdout.write(
            f"Receiving mail on {controller.hostname}:{controller.port}; Ctrl-C stops."
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
