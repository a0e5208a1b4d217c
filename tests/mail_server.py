"""A real SMTP server on loopback (aiosmtpd) for delivery tests."""

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller


class Inbox:
    """The server's mailbox. It refuses the addresses in ``refuse`` at RCPT,
    as a server refuses an unknown mailbox, and the e-mails to any address in
    ``refuse_data_for`` at DATA."""

    def __init__(self):
        self.messages = []
        self.refuse = set()
        self.refuse_data_for = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.refuse_data_for & set(envelope.rcpt_tos):
            return "554 5.7.1 Message refused by policy"
        self.messages.append(envelope)
        return "250 OK"

    def parsed(self):
        return [
            email.message_from_bytes(e.content, policy=email.policy.default)
            for e in self.messages
        ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback, and the mail settings pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield inbox
    controller.stop()
