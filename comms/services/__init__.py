"""Changes to the template library and to messages, one function per intention.

Split by subject (templates, messages); callers import from here.
"""

from .messages import (
    FACT_STAGES,
    approve_message,
    cancel_message,
    deliver_message,
    due_work,
    log_reply,
    missing_resolution_facts,
    reject_message,
    retry_message,
    revise_message,
    rework_message,
    save_draft,
    send_draft,
    send_message,
)
from .templates import check_template_source, preview_template, revise_template

__all__ = [
    "FACT_STAGES",
    "approve_message",
    "cancel_message",
    "check_template_source",
    "deliver_message",
    "due_work",
    "log_reply",
    "missing_resolution_facts",
    "preview_template",
    "reject_message",
    "retry_message",
    "revise_message",
    "revise_template",
    "rework_message",
    "save_draft",
    "send_draft",
    "send_message",
]
