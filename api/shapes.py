"""Rows as the API shows them: plain dicts in the schemas' shapes.

Each function reads only what its caller loaded (the list selectors join
the related rows), so a page of results costs no query per row.
"""

import datetime as dt

from django.urls import reverse

from incidents import lifecycle
from incidents.models import Customer, Incident, masked
from incidents.selectors import incident_clocks, overall_clock_state


def person(user) -> dict | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "username": user.get_username(),
        "name": user.get_full_name() or user.get_username(),
    }


def customer_ref(customer: Customer | None) -> dict | None:
    if customer is None:
        return None
    return {"id": customer.pk, "account_id": customer.account_id, "name": customer.name}


def _amount(value) -> str | None:
    return None if value is None else str(value)


def incident_summary(incident: Incident, now: dt.datetime) -> dict:
    clocks = incident_clocks(incident, now)
    return {
        "id": incident.pk,
        "reference": incident.reference,
        "url": reverse("incidents:detail", args=[incident.pk]),
        "title": incident.title,
        "priority": incident.priority,
        "status": incident.status,
        "is_systemic": incident.is_systemic,
        "customer": customer_ref(incident.customer),
        "category": incident.category.name if incident.category_id else None,
        "owner": person(incident.owner),
        "signal": incident.signal.code if incident.signal_id else None,
        "tags": incident.tags,
        "version": incident.version,
        "sla_state": str(overall_clock_state(clocks)),
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
        "first_response_due_at": incident.first_response_due_at,
        "resolution_due_at": incident.resolution_due_at,
        "first_response_at": incident.first_response_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
    }


def incident_detail(incident: Incident, now: dt.datetime) -> dict:
    clocks = incident_clocks(incident, now)
    return {
        **incident_summary(incident, now),
        "policy": incident.policy.name,
        "what_happened": incident.what_happened,
        "customer_summary": incident.customer_summary,
        "root_cause": incident.root_cause,
        "fix_summary": incident.fix_summary,
        "service_status": incident.service_status,
        "sentiment": incident.sentiment,
        "detected_at": incident.detected_at,
        "impact_started_at": incident.impact_started_at,
        "amount_paid": _amount(incident.amount_paid),
        "revenue_impact": _amount(incident.revenue_impact),
        "is_service_delivered": incident.is_service_delivered,
        "customer_contact_count": incident.customer_contact_count,
        "priority_reason": incident.priority_reason,
        "is_partner_action_needed": incident.is_partner_action_needed,
        "partner_action_details": incident.partner_action_details,
        "is_vendor_action_needed": incident.is_vendor_action_needed,
        "vendor_action_details": incident.vendor_action_details,
        "is_engineering_action_needed": incident.is_engineering_action_needed,
        "engineering_action_details": incident.engineering_action_details,
        "clocks": {name: str(state) for name, state in clocks.items()},
        "allowed_moves": lifecycle.allowed_moves(incident.status),
        "monitoring_ends_at": incident.monitoring_ends_at,
        "archived_at": incident.archived_at,
    }


def timeline_event(event) -> dict:
    return {
        "id": event.pk,
        "kind": event.kind,
        "label": event.get_kind_display(),
        "actor": person(event.actor),
        "created_at": event.created_at,
        "details": event.details,
    }


def message(message, *, reference: str) -> dict:
    party = message.party
    return {
        "id": message.pk,
        "incident": reference,
        "audience": message.audience,
        "channel": message.channel,
        "stage": message.stage,
        "situation": message.situation,
        "follow_up_number": message.follow_up_number,
        "party": {"id": party.pk, "name": party.name, "kind": party.kind}
        if party
        else None,
        "recipients": message.recipients,
        "subject": message.subject,
        "body": message.body,
        "status": message.status,
        "status_reason": message.status_reason,
        "created_by": person(message.created_by),
        "created_at": message.created_at,
        "send_after": message.send_after,
        "sent_at": message.sent_at,
        "decided_by": person(message.decided_by),
        "decided_at": message.decided_at,
    }


def tier(tier) -> dict | None:
    if tier is None:
        return None
    return {"id": tier.pk, "key": tier.key, "name": tier.name}


def escalation(escalation, *, reference: str) -> dict:
    return {
        "id": escalation.pk,
        "incident": reference,
        "path": escalation.path,
        "from_tier": tier(escalation.from_tier),
        "to_tier": tier(escalation.to_tier),
        "status": escalation.status,
        "needs_approval": escalation.needs_approval,
        "urgency": escalation.urgency,
        "sentiment": escalation.sentiment,
        "summary": escalation.summary,
        "customer_wants": escalation.customer_wants,
        "tried": escalation.tried,
        "why": escalation.why,
        "recommended_resolution": escalation.recommended_resolution,
        "path_details": escalation.path_details,
        "requested_by": person(escalation.requested_by),
        "created_at": escalation.created_at,
        "decided_by": person(escalation.decided_by),
        "decided_at": escalation.decided_at,
        "decision_reason": escalation.decision_reason,
        "ack_due_at": escalation.ack_due_at,
        "acknowledged_at": escalation.acknowledged_at,
        "closed_at": escalation.closed_at,
        "outcome": escalation.outcome,
    }


def credit(credit, *, reference: str) -> dict:
    return {
        "id": credit.pk,
        "incident": reference,
        "customer": customer_ref(credit.customer),
        "kind": credit.kind,
        "amount": str(credit.amount),
        "currency": credit.currency,
        "extension_days": credit.extension_days,
        "reason": credit.reason,
        "evidence_note": credit.evidence_note,
        "evidence_messages": [m.pk for m in credit.evidence_messages.all()],
        "status": credit.status,
        "requested_by": person(credit.requested_by),
        "requested_at": credit.requested_at,
        "decided_by": person(credit.decided_by),
        "decided_at": credit.decided_at,
        "decision_reason": credit.decision_reason,
        "applied_at": credit.applied_at,
    }


def customer(customer: Customer, *, full_account_numbers: bool) -> dict:
    account = customer.old_carrier_account
    return {
        "id": customer.pk,
        "account_id": customer.account_id,
        "name": customer.name,
        "email": customer.email,
        "segment": customer.segment,
        "is_vip": customer.is_vip,
        "account_status": customer.account_status,
        "relationship_status": customer.relationship_status,
        "customer_since_on": customer.customer_since_on,
        "phone": customer.phone,
        "old_carrier_account": account if full_account_numbers else masked(account),
        "company": customer.company,
        "contact_name": customer.contact_name,
        "contact_title": customer.contact_title,
        "package_level": customer.package_level,
        "annual_contract_value": _amount(customer.annual_contract_value),
        "contract_currency": customer.contract_currency,
        "renewal_on": customer.renewal_on,
        "time_zone": customer.time_zone,
        "policy": customer.policy.name if customer.policy_id else None,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }
