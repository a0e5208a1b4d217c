"""The comms app's pages and APIs, one module per subject; urls.py reads them here."""

from .approvals import approval_queue, message_approve, message_reject
from .composer import compose
from .inbound import (
    inbound_mail_attach,
    inbound_mail_dismiss,
    inbound_mail_triage,
    inbound_mail_webhook,
    reply_confirm,
)
from .messages import (
    incident_messages,
    message_cancel,
    message_retry,
    message_rework,
    message_send_draft,
    reply_log,
)
from .operations import operations
from .plans import communication_plan_start
from .signals import signal_receive, signal_status

__all__ = [
    "approval_queue",
    "communication_plan_start",
    "compose",
    "inbound_mail_attach",
    "inbound_mail_dismiss",
    "inbound_mail_triage",
    "inbound_mail_webhook",
    "incident_messages",
    "message_approve",
    "message_cancel",
    "message_reject",
    "message_retry",
    "message_rework",
    "message_send_draft",
    "operations",
    "reply_confirm",
    "reply_log",
    "signal_receive",
    "signal_status",
]
