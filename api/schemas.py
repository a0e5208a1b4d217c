"""The API's JSON shapes: small, explicit, and the OpenAPI schema's source.

Input schemas forbid unknown fields (a misspelt field is a 400, not a
silently ignored change). Choices the code fixes are enums here; choices an
admin edits (categories, tiers) are checked by the page's own form.
"""

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict

from comms.models import Audience, Channel, Stage
from escalations.models import CreditKind, Path, Urgency
from incidents.models import Incident, Priority
from portal.forms import INTEGER_MAX


def one_of(choices) -> Any:
    """Return a Literal of a TextChoices' values, for an enum in the schema."""
    return Literal[tuple(choices.values)]


def _storable(text: str) -> str:
    # Bodies are checked as they are read (api.parser); query strings here.
    if "\x00" in text:
        raise ValueError("Contains a NUL character.")
    return text


PlainText = Annotated[str, AfterValidator(_storable)]


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# -- Shared pieces ------------------------------------------------------------


class Person(Schema):
    id: int
    username: str
    name: str


class CustomerRef(Schema):
    id: int
    account_id: str
    name: str


# -- Incidents ------------------------------------------------------------------


class IncidentSummary(Schema):
    id: int
    reference: str = Field(..., examples=["INC-00042"])
    url: str = Field(..., description="The incident's page in the portal.")
    title: str
    priority: str
    status: str
    is_systemic: bool
    customer: CustomerRef | None
    category: str | None
    owner: Person | None
    signal: str | None
    tags: list[str]
    version: int = Field(..., description="Send it back to PATCH or move.")
    sla_state: str = Field(..., description="The worse of the two SLA clocks.")
    created_at: dt.datetime
    updated_at: dt.datetime
    first_response_due_at: dt.datetime
    resolution_due_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None


class IncidentDetail(IncidentSummary):
    policy: str
    what_happened: str
    customer_summary: str
    root_cause: str
    fix_summary: str
    service_status: str
    sentiment: str
    detected_at: dt.datetime
    impact_started_at: dt.datetime | None
    amount_paid: str | None
    revenue_impact: str | None
    is_service_delivered: bool | None
    customer_contact_count: int
    priority_reason: str
    is_partner_action_needed: bool
    partner_action_details: str
    is_vendor_action_needed: bool
    vendor_action_details: str
    is_engineering_action_needed: bool
    engineering_action_details: str
    clocks: dict[str, str]
    allowed_moves: list[str]
    monitoring_ends_at: dt.datetime | None
    archived_at: dt.datetime | None


class IncidentPage(Schema):
    items: list[IncidentSummary]
    next_cursor: str | None


class ImmediateActionIn(In):
    who: str
    what: str
    due_at: dt.datetime | None = None


class IncidentFieldsIn(In):
    """The incident form's fields, as JSON (see IncidentOpenIn for each)."""

    title: str = None
    priority: one_of(Priority) = None
    category: int | str = Field(None, description="A category's id or slug.")
    signal: str | None = Field(None, description="A signal's code, e.g. SIG-002.")
    customer: str | None = Field(
        None, description="The customer's account id or e-mail address."
    )
    is_systemic: bool = None
    what_happened: str = None
    customer_summary: str = None
    service_status: one_of(Incident.ServiceStatus) = None
    impact_started_at: dt.datetime | None = None
    detected_at: dt.datetime | None = None
    amount_paid: str | None = Field(None, description="An amount, e.g. 1250.00.")
    revenue_impact: str | None = Field(None, description="An amount.")
    is_service_delivered: bool | None = None
    customer_contact_count: int = Field(None, ge=0, le=INTEGER_MAX)
    sentiment: one_of(Incident.Sentiment) = None
    priority_reason: str = None
    root_cause: str = None
    fix_summary: str = None
    is_partner_action_needed: bool = None
    partner_action_details: str = None
    is_vendor_action_needed: bool = None
    vendor_action_details: str = None
    is_engineering_action_needed: bool = None
    engineering_action_details: str = None
    extra_tags: list[str] = Field(None, max_length=50)
    severity_criteria: list[int] = Field(
        None, max_length=50, description="Ids of the policy's severity criteria."
    )


class IncidentOpenIn(IncidentFieldsIn):
    """Open an incident: the new-incident form's fields."""

    title: str
    priority: one_of(Priority)
    category: int | str = Field(..., description="A category's id or slug.")
    what_happened: str
    is_systemic: bool = False
    service_status: one_of(Incident.ServiceStatus) = Incident.ServiceStatus.ACTIVE.value
    sentiment: one_of(Incident.Sentiment) = Incident.Sentiment.UNKNOWN.value
    customer_contact_count: int = Field(0, ge=0, le=INTEGER_MAX)
    owner: int | None = Field(None, ge=1, le=INTEGER_MAX)
    immediate_actions: list[ImmediateActionIn] = Field([], max_length=3)


class IncidentEditIn(IncidentFieldsIn):
    """Change some fields; the others keep their values."""

    version: int = Field(
        ..., ge=1, le=INTEGER_MAX, description="The version you last read."
    )


class MoveIn(In):
    to: one_of(Incident.Status)
    version: int = Field(..., ge=1, le=INTEGER_MAX)
    note: str = Field("", max_length=500)


class TimelineEventOut(Schema):
    id: int
    kind: str
    label: str
    actor: Person | None
    created_at: dt.datetime
    details: dict[str, Any]


class TimelinePage(Schema):
    items: list[TimelineEventOut]
    next_cursor: str | None


# -- Messages -------------------------------------------------------------------


class PartyRef(Schema):
    id: int
    name: str
    kind: str


class MessageOut(Schema):
    id: int
    incident: str
    audience: str
    channel: str
    stage: str
    situation: str
    follow_up_number: int | None
    party: PartyRef | None
    recipients: list[str]
    subject: str
    body: str
    status: str = Field(..., examples=["awaiting_approval"])
    status_reason: str
    created_by: Person | None
    created_at: dt.datetime
    send_after: dt.datetime | None
    sent_at: dt.datetime | None
    decided_by: Person | None
    decided_at: dt.datetime | None


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class MessageIn(In):
    """The composer's fields; ``draft`` is its Save draft button."""

    audience: one_of(Audience)
    channel: one_of(Channel)
    stage: one_of(Stage)
    situation: str = ""
    follow_up_number: int | None = Field(None, ge=1, le=99)
    party: int | None = Field(None, ge=1, le=INTEGER_MAX)
    recipients: list[str] = Field([], max_length=500)
    subject: str = ""
    body: str
    send_after: dt.datetime | None = None
    template_version: int | None = Field(None, ge=1, le=INTEGER_MAX)
    draft: bool = False
    override_reason: str = Field(
        "", description="A manager's reason to send during a security hold."
    )
    say_it_anyway: bool = Field(
        False, description="Send words the policy asks never to say, as written."
    )


class ApprovalIn(In):
    subject: str | None = None
    body: str | None = None
    override_reason: str = ""


# -- Escalations and credits ------------------------------------------------------


class TierRef(Schema):
    id: int
    key: str
    name: str


class EscalationOut(Schema):
    id: int
    incident: str
    path: str
    from_tier: TierRef | None
    to_tier: TierRef
    status: str
    needs_approval: bool
    urgency: str
    sentiment: str
    summary: str
    customer_wants: str
    tried: str
    why: str
    recommended_resolution: str
    path_details: dict[str, Any]
    requested_by: Person | None
    created_at: dt.datetime
    decided_by: Person | None
    decided_at: dt.datetime | None
    decision_reason: str
    ack_due_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    outcome: str


class EscalationPage(Schema):
    items: list[EscalationOut]
    next_cursor: str | None


class EscalationNoteIn(In):
    summary: str = ""
    customer_wants: str = ""
    tried: str = Field("", description="One step per line: step → result.")
    why: str = ""
    recommended_resolution: str = ""
    urgency: one_of(Urgency) = Urgency.MEDIUM.value
    sentiment: str = "neutral"
    issue_category: str = ""
    first_reported_on: dt.date | None = None
    related_tickets: str = ""


class EscalationIn(In):
    """The escalate form's fields, grouped."""

    path: one_of(Path)
    tiers: list[int | str] = Field(
        ..., max_length=20, description="Tier ids or keys (see /options)."
    )
    note: EscalationNoteIn
    path_details: dict[str, str] = Field({}, description="The path's own fields.")
    checks: dict[int, bool | str] = Field(
        {},
        description="Each pre-escalation check's id: true, or why it does not apply.",
    )
    flags: list[str] = Field([], max_length=20)
    refund_amount: str | None = None
    port_in_rejections: int | None = Field(None, ge=0, le=99)
    bug_report: dict[str, str | bool | int] | None = Field(
        None, description="Files a bug report (Engineering and Tier 3 paths)."
    )


class PathFieldOut(Schema):
    name: str
    label: str
    required: bool
    choices: list[str]


class PathOut(Schema):
    path: str
    label: str
    fields: list[PathFieldOut]


class CheckOut(Schema):
    id: int
    text: str


class EscalationOptions(Schema):
    tiers: list[TierRef]
    checks: list[CheckOut]
    paths: list[PathOut]


class CreditOut(Schema):
    id: int
    incident: str
    customer: CustomerRef
    kind: str
    amount: str
    currency: str
    extension_days: int | None
    reason: str
    evidence_note: str
    evidence_messages: list[int]
    status: str
    requested_by: Person | None
    requested_at: dt.datetime
    decided_by: Person | None
    decided_at: dt.datetime | None
    decision_reason: str
    applied_at: dt.datetime | None


class CreditPage(Schema):
    items: list[CreditOut]
    next_cursor: str | None


class CreditIn(In):
    kind: one_of(CreditKind)
    amount: str = Field(..., description="As typed: 250.00 or 1,250.00.")
    currency: str | None = Field(None, description="Default: the policy's.")
    reason: str
    customer: str | None = Field(
        None, description="Account id of the affected customer (systemic only)."
    )
    extension_days: int | None = Field(None, ge=1, le=3650)
    evidence_messages: list[int] = Field([], max_length=100)
    evidence_note: str = ""


# -- Customers ------------------------------------------------------------------


class CustomerOut(Schema):
    id: int
    account_id: str
    name: str
    email: str
    segment: str
    is_vip: bool
    account_status: str
    relationship_status: str
    customer_since_on: dt.date | None
    phone: str
    old_carrier_account: str = Field(
        ...,
        description="Masked to its last four characters unless your role "
        "sees account numbers in full.",
    )
    company: str
    contact_name: str
    contact_title: str
    package_level: str
    annual_contract_value: str | None
    contract_currency: str
    renewal_on: dt.date | None
    time_zone: str
    policy: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class CustomerFieldsIn(In):
    name: str = None
    email: str = None
    account_id: str = None
    segment: str = None
    is_vip: bool = None
    account_status: str = None
    relationship_status: str = None
    customer_since_on: dt.date | None = None
    phone: str = None
    old_carrier_account: str = None
    company: str = None
    contact_name: str = None
    contact_title: str = None
    package_level: str = None
    annual_contract_value: str | None = None
    contract_currency: str = None
    renewal_on: dt.date | None = None
    time_zone: str = None
    policy: int | None = Field(None, ge=1, le=INTEGER_MAX)


class CustomerCreateIn(CustomerFieldsIn):
    name: str
    email: str
    account_id: str


# -- Errors ---------------------------------------------------------------------


class Problem(Schema):
    """An RFC 9457 problem (served as application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: dict[str, list[str]] | None = Field(
        None, description="Field (or path such as note.summary) → messages."
    )
    code: str | None = Field(None, description="The refusal's code, e.g. stale.")
