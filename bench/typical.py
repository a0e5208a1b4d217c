"""An incident with a typical history, made through services.

10 timeline events, 3 messages, a reply and an action item: the page the
forty agents of an outage refresh. Made once; later runs find it by title.
"""

from django.contrib.auth import get_user_model

TITLE = "Bench: port-in stuck after carrier change (typical history)"


def typical_incident():
    """Return the benchmark's typical incident, making it the first time."""
    from comms import services as comms
    from incidents import services
    from incidents.models import Category, Customer, Incident

    existing = Incident.objects.filter(title=TITLE).first()
    if existing:
        return existing
    agent = get_user_model().objects.get(username="agent")
    senior = get_user_model().objects.get(username="senior")
    incident = services.open_incident(
        actor=agent,
        title=TITLE,
        priority="P2",
        category=Category.objects.get(slug="port_in"),
        customer=Customer.objects.order_by("id").first(),
        what_happened="The number transfer has been stuck since Monday morning.",
        owner=agent,
    )
    for status in ("investigating", "waiting_partner", "investigating"):
        incident = services.move_incident(
            incident=incident, actor=agent, to_status=status, note="Bench history."
        )
    incident = services.assign_incident(
        incident=incident, actor=agent, owner=senior, expected_version=None
    )
    services.add_immediate_action(
        incident=incident, actor=agent, who="Carrier team", what="Re-push the port"
    )
    for n in range(1, 4):
        comms.save_draft(
            incident=incident,
            actor=agent,
            audience="internal",
            channel="note",
            stage="follow_up",
            situation="",
            follow_up_number=n,
            party=None,
            recipients=[],
            subject="",
            body=f"Internal update {n}: still waiting on the carrier.",
            send_after=None,
            template_version=None,
        )
    comms.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="customer",
        text="Still no service on my new number.",
    )
    return Incident.objects.get(pk=incident.pk)
