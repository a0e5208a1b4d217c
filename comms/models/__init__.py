"""The comms app's models, one module per subject; import them from here."""

from .inbound import InboundMail
from .loops import FollowUpLoop, FollowUpSlot, SweepHeartbeat
from .messages import Message, Reply
from .parties import ChatRoute, DeliveryRule, ExternalParty
from .signals import MonitoringIntegration, SignalKey, SignalReceipt
from .templates import (
    Audience,
    Channel,
    MessageTemplate,
    MessageTemplateVersion,
    Situation,
    Stage,
)

__all__ = [
    "Audience",
    "Channel",
    "ChatRoute",
    "DeliveryRule",
    "ExternalParty",
    "FollowUpLoop",
    "FollowUpSlot",
    "InboundMail",
    "Message",
    "MessageTemplate",
    "MessageTemplateVersion",
    "MonitoringIntegration",
    "Reply",
    "SignalKey",
    "SignalReceipt",
    "Situation",
    "Stage",
    "SweepHeartbeat",
]
