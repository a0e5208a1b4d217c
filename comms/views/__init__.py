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
    choice_param,
    incident_messages,
    incident_or_404,
    int_param,
    loop_ticket,
    message_cancel,
    message_hold,
    message_retry,
    message_rework,
    message_send_draft,
    message_send_now,
    outcome_message,
    reply_log,
)
from .operations import OPERATIONS_ROWS, operations
from .plans import communication_plan_start
from .signals import MAX_CUSTOMERS, SIGNAL_FIELDS, signal_receive, signal_status

__all__ = [
    "MAX_CUSTOMERS",
    "OPERATIONS_ROWS",
    "SIGNAL_FIELDS",
    "approval_queue",
    "choice_param",
    "communication_plan_start",
    "compose",
    "inbound_mail_attach",
    "inbound_mail_dismiss",
    "inbound_mail_triage",
    "inbound_mail_webhook",
    "incident_messages",
    "incident_or_404",
    "int_param",
    "loop_ticket",
    "message_approve",
    "message_cancel",
    "message_hold",
    "message_reject",
    "message_retry",
    "message_rework",
    "message_send_draft",
    "message_send_now",
    "operations",
    "outcome_message",
    "reply_confirm",
    "reply_log",
    "signal_receive",
    "signal_status",
]
