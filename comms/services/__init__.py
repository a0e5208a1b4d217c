"""Changes to the template library and to messages, one function per intention.

One module per subject: templates; the outbound rules, delivery, messages and
replies; follow-up loops, inbound mail, monitoring signals and plan starts.
Callers import from here.
"""

from . import delivery, inbound, loops, monitoring, plans, war_room
from .delivery import deliver_message
from .inbound import (
    attach_inbound_mail,
    confirm_customer_reply,
    dismiss_inbound_mail,
    receive_email,
)
from .loops import (
    fire_follow_up,
    keep_customer_posted_within,
    note_reply,
    record_party_ticket,
    record_sweep,
)
from .messages import (
    approve_message,
    cancel_message,
    hold_message,
    reject_message,
    retry_message,
    revise_message,
    rework_message,
    save_draft,
    send_draft,
    send_message,
    send_message_now,
    send_status_page_post,
    send_template,
)
from .outbound import FACT_STAGES, missing_resolution_facts
from .replies import log_reply
from .templates import check_template_source, preview_template, revise_template


def due_work(now):
    """Run comms' scheduled work: follow-up loops first, then deliveries.

    Lost signals go first, since the incidents they open start loops and
    plans; loops go before deliveries so a follow-up they queue is picked up by the same
    sweep's delivery pass if its enqueued task is lost.
    """
    return {
        **monitoring.due_work(now),
        **plans.due_work(now),
        **loops.due_work(now),
        **delivery.due_work(now),
        **war_room.due_work(now),
    }


__all__ = [
    "FACT_STAGES",
    "approve_message",
    "attach_inbound_mail",
    "confirm_customer_reply",
    "dismiss_inbound_mail",
    "inbound",
    "receive_email",
    "keep_customer_posted_within",
    "record_party_ticket",
    "record_sweep",
    "cancel_message",
    "check_template_source",
    "deliver_message",
    "due_work",
    "fire_follow_up",
    "loops",
    "delivery",
    "monitoring",
    "plans",
    "note_reply",
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
    "send_status_page_post",
    "send_message_now",
    "hold_message",
    "send_template",
]
