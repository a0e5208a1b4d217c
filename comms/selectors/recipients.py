"""Who a message goes to, and how it leaves: chat routes, customer addresses,
and the delivery rule that applies."""

from django.db.models import Q

from incidents.models import AffectedCustomer, Incident

from .. import sweep_memo
from ..models import (
    Audience,
    Channel,
    ChatRoute,
    DeliveryRule,
    ExternalParty,
    Stage,
)


def chat_route_for(incident: Incident) -> ChatRoute | None:
    """Return the most specific chat route for the incident.

    From the carrier communication playbook, part 2B.
    """
    return sweep_memo.recall(
        (
            "chat_route_for",
            incident.priority,
            incident.is_systemic,
            incident.category_id,
        ),
        lambda: _most_specific_chat_route(incident),
    )


def _most_specific_chat_route(incident: Incident) -> ChatRoute | None:
    routes = ChatRoute.objects.filter(
        Q(priority="") | Q(priority=incident.priority),
        Q(is_systemic=False) | Q(is_systemic=incident.is_systemic),
        Q(category__isnull=True) | Q(category_id=incident.category_id),
    )

    def rank(route):
        return (
            -bool(route.priority),
            -route.is_systemic,
            -bool(route.category_id),
            route.pk,
        )

    return min(routes, key=rank, default=None)


def default_recipients(
    incident: Incident,
    *,
    audience: str,
    channel: str,
    stage: str = "",
    party: ExternalParty | None = None,
) -> list[str]:
    """Return who a message goes to unless the sender changes it."""
    if channel == Channel.NOTE:
        return []
    if channel == Channel.CHAT:
        route = chat_route_for(incident)
        return [route.channel_name] if route else []
    if audience == Audience.CUSTOMER:
        return customer_addresses(incident)
    if audience in (Audience.PARTNER, Audience.VENDOR) and party:
        if stage == Stage.ESCALATION and party.escalation_email:
            return [party.escalation_email]
        return [party.support_email]
    return []


def customer_addresses(incident: Incident) -> list[str]:
    """Return every customer an incident's customer messages go to.

    A systemic incident reaches each affected customer; each gets an e-mail
    of their own.
    """
    addresses = [incident.customer.email] if incident.customer_id else []
    if incident.is_systemic:
        addresses += AffectedCustomer.objects.filter(incident=incident).values_list(
            "customer__email", flat=True
        )
    seen = set()
    return [a for a in addresses if not (a.lower() in seen or seen.add(a.lower()))]


def delivery_mode(incident: Incident, *, audience: str, to_many: bool = False) -> str:
    """Return how a message to ``audience`` leaves: automatic, draft, approval.

    ``to_many``: the message reaches many customers whatever the incident
    (a status page post), so the systemic rules apply.
    """
    if audience == Audience.INTERNAL:
        return DeliveryRule.Mode.AUTOMATIC
    systemic = incident.is_systemic or to_many
    return sweep_memo.recall(
        ("delivery_mode", audience, incident.priority, systemic),
        lambda: _strictest_delivery_mode(
            incident.priority, systemic, audience=audience
        ),
    )


def _strictest_delivery_mode(priority: str, systemic: bool, *, audience: str) -> str:
    rules = DeliveryRule.objects.filter(
        Q(priority="") | Q(priority=priority),
        Q(is_systemic=False) | Q(is_systemic=systemic),
        audience=audience,
    )
    # Approval beats draft beats automatic among equally specific rules:
    # when two rules fit, the stricter one applies.
    strictness = {
        DeliveryRule.Mode.APPROVAL: 0,
        DeliveryRule.Mode.DRAFT: 1,
        DeliveryRule.Mode.AUTOMATIC: 2,
    }
    best = min(
        rules,
        key=lambda r: (-bool(r.priority) - r.is_systemic, strictness[r.mode]),
        default=None,
    )
    return best.mode if best else DeliveryRule.Mode.AUTOMATIC
