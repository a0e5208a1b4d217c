"""The default template library, written for Switchboard from the playbooks'
message kinds (carrier communication playbook, parts 2-8; agency resolution
protocol; carrier escalation guide, escalation paths; fleet escalation
playbook).

Migration 0002 loads it once; after that the admin owns the wording.
Each entry: key, name, audience, channel, stage, optional follow-up range,
situation and priority, subject and body.
"""

from textwrap import dedent

# The carrier communication playbook's subject pattern for internal e-mails
# and ticket notes:
# [INCIDENT] [P1] [signal or category] — customer (e-mail).
INCIDENT_SUBJECT = (
    "[INCIDENT] [{{ incident.priority }}] [{{ incident.signal if incident.signal "
    "!= 'REPORTED' else incident.category }}] — {% if customer.name %}"
    "{{ customer.name }} ({{ customer.email }}){% else %}systemic, "
    "{{ incident.affected_count }} customers{% endif %}"
)

# A person signs with their name and the team; the portal signs once, as
# the team, not "The Support team" above "Support".
SIGN_OFF = """
{{ sender.name }}
{% if sender.is_person %}{{ support.team }}{% endif %}
"""

# A partner's or vendor's own ticket number, in the subject of what we send
# them, so their support desk files it without asking.
THEIR_TICKET = "{% if party.ticket_id %} (your ticket {{ party.ticket_id }}){% endif %}"
# What an escalation to a partner's or vendor's management states: what we
# sent and what came back (the carrier communication playbook, partner
# escalation).
PARTY_RECORD = """
        {% if party.ticket_id %}
        Your ticket: {{ party.ticket_id }}
        {% endif %}
        Our follow-ups so far: {{ party.follow_ups_sent }}{% if party.follow_up_dates %}, sent {{ party.follow_up_dates }}{% endif +%}
        Replies from you: {% if party.replies != '0' %}{{ party.replies }}; the latest {{ party.last_reply }}{% else %}none yet{% endif +%}
"""


def _t(key, name, audience, channel, stage, subject, body, **filters):
    signed = body.endswith(SIGN_OFF)
    if signed:
        body = body[: -len(SIGN_OFF)]
    body = dedent(body).strip() + "\n"
    if signed:
        body += "\n" + SIGN_OFF.strip() + "\n"
    return {
        "key": key,
        "name": name,
        "audience": audience,
        "channel": channel,
        "stage": stage,
        "subject": subject,
        "body": body,
        **filters,
    }


LIBRARY = [
    # --- Creation -------------------------------------------------------
    _t(
        "internal-ticket-note",
        "Internal ticket note (new incident)",
        "internal",
        "note",
        "creation",
        INCIDENT_SUBJECT,
        """
        {{ incident.reference }} · {{ incident.priority }} ({{ incident.severity }})
        Signal: {{ incident.signal }} · Category: {{ incident.category }}
        Opened: {{ incident.opened_at }}

        What happened
        {{ incident.what_happened }}

        Customer impact
        {% if incident.is_systemic %}Systemic: {{ incident.affected_count }} customers listed so far.
        {% else %}{{ customer.name }} <{{ customer.email }}>, account {{ customer.account_id }}
        {% endif %}Service: {{ incident.service_status }} for {{ incident.impact_duration }}
        {% if incident.amount_paid %}Paid: {{ incident.amount_paid }}
        {% endif %}Contacts from the customer: {{ incident.contact_count }} · Sentiment: {{ incident.sentiment }}

        Root cause: {{ incident.root_cause }}
        {% if incident.partner_action %}Partner to do: {{ incident.partner_action }}
        {% endif %}{% if incident.vendor_action %}Vendor to do: {{ incident.vendor_action }}
        {% endif %}{% if incident.engineering_action %}Engineering to do: {{ incident.engineering_action }}
        {% endif %}
        First reply due {{ sla.first_response_due }} · resolve by {{ sla.resolution_due }}
        Tags: {{ incident.tags|join(', ') }}
        """,
    ),
    _t(
        "internal-chat-alert",
        "Chat alert: new incident",
        "internal",
        "chat",
        "creation",
        "New incident {{ incident.reference }} ({{ incident.priority }})",
        """
        :rotating_light: New {{ incident.priority }} incident {{ incident.reference }}: {{ incident.title }}
        Customer: {% if incident.is_systemic %}systemic{% else %}{{ customer.name }} <{{ customer.email }}>{% endif +%}
        Category: {{ incident.category }} · Signal: {{ incident.signal }}
        Service: {{ incident.service_status }}, {{ incident.impact_duration }} so far
        Owner: {{ owner.name }}
        Reply due {{ sla.first_response_due }} · resolve by {{ sla.resolution_due }}
        {{ incident.url }}
        """,
    ),
    _t(
        "customer-initial",
        "Customer: we are on it",
        "customer",
        "email",
        "creation",
        "We're working on your {{ incident.category }} issue ({{ incident.reference }})",
        """
        Hello {{ customer.first_name }},

        Thank you for your patience. We have opened {{ incident.reference }} for the
        problem you are seeing and a specialist is looking into it now.

        {% if incident.customer_summary %}What we know so far: {{ incident.customer_summary }}

        {% endif %}You will hear from us again by {{ next_update_at or sla.resolution_due }},
        sooner if we fix it first. Reply to this e-mail at any time to add details.
        """
        + SIGN_OFF,
    ),
    _t(
        "customer-initial-proactive",
        "Customer: we spotted a problem before you did",
        "customer",
        "email",
        "creation",
        "We noticed a problem with your {{ incident.category }} service",
        """
        Hello {{ customer.first_name }},

        Our monitoring picked up a problem that affects your account before you had
        to tell us about it.{% if incident.customer_summary %} {{ incident.customer_summary }}{% endif %}


        You don't need to do anything. We are already working on it under
        {{ incident.reference }} and will update you by {{ next_update_at or sla.resolution_due }}.
        """
        + SIGN_OFF,
        situation="proactive",
    ),
    _t(
        "customer-initial-critical",
        "Customer: critical issue, immediate action taken",
        "customer",
        "email",
        "creation",
        "[Critical] We are acting on your service issue now ({{ incident.reference }})",
        """
        Hello {{ customer.first_name }},

        We know this is stopping your work and we have treated it as critical from
        the first minute.

        {% if incident.customer_summary %}What is affected: {{ incident.customer_summary }}
        {% endif %}Since: {{ incident.impact_started_at or incident.opened_at }}
        What we are doing: our senior team is on it now, and {{ owner.name }} owns
        your case until it is fixed.

        You will get an update {{ cadence.customer or 'at every step' }} until service is
        back{% if next_update_at %}, the next one by {{ next_update_at }}{% endif %}.
        {% if status_page.url %}

        Live updates in between, on our status page: {{ status_page.url }}
        {% endif %}
        """
        + SIGN_OFF,
        priority="P1",
    ),
    _t(
        "partner-initial",
        "Partner: action required",
        "partner",
        "email",
        "creation",
        "[{{ 'URGENT' if incident.priority == 'P1' else ('HIGH' if incident.priority == 'P2' else 'STANDARD') }}] "
        "{{ incident.reference }}: {{ incident.category }} — action required",
        """
        Hello {{ party.name }} team,

        We need your help with {{ incident.reference }}, which affects
        {% if incident.is_systemic %}{{ incident.affected_count }} of our customers{% else %}one of our customers{% endif %}.

        What is happening: {{ incident.what_happened }}
        Impact so far: {{ incident.service_status }} for {{ incident.impact_duration }}.
        What we need from you: {{ incident.partner_action or 'please investigate on your side' }}
        Our account reference: {{ party.account_ref }}

        Please acknowledge within {{ party.ack_hours }} hours. We have promised the
        customer a resolution by {{ sla.resolution_due }}; our next update to you is
        due {{ next_update_at }}.
        """
        + SIGN_OFF,
    ),
    _t(
        "vendor-initial",
        "Vendor: support request",
        "vendor",
        "email",
        "creation",
        "Support request: {{ incident.title }} ({{ incident.reference }})",
        """
        Hello {{ party.name }} support,

        We are seeing a failure in your service in production and need your help.

        Our account: {{ party.account_ref }}
        Our priority: {{ incident.severity }}
        First seen: {{ incident.impact_started_at or incident.opened_at }}
        What fails: {{ incident.what_happened }}
        What we need: {{ incident.vendor_action or 'an investigation and an estimate' }}

        We have checked our side first. Please confirm receipt within
        {{ party.ack_hours }} hours and send your ticket number.
        """
        + SIGN_OFF,
    ),
    # --- Follow-up: internal (tone 1, 2, 3, 4+) ---------------------------
    _t(
        "internal-update-1",
        "Chat update #1 (informational)",
        "internal",
        "chat",
        "follow_up",
        "Update #{{ follow_up_number }} on {{ incident.reference }}",
        """
        :information_source: Update #{{ follow_up_number }} · {{ incident.reference }} ({{ incident.priority }}) · {{ incident.status }}
        {{ incident.title }}
        Root cause: {{ incident.root_cause }}
        Owner: {{ owner.name }}{% if incident.commander %} · commander {{ incident.commander }}{% endif %}{% if incident.war_room %} · war room {{ incident.war_room }}{% endif %} · SLA {{ sla.state }} · resolve by {{ sla.resolution_due }}
        """,
        follow_up_from=1,
        follow_up_to=1,
    ),
    _t(
        "internal-update-2",
        "Chat update #2 (flagging concern)",
        "internal",
        "chat",
        "follow_up",
        "Update #{{ follow_up_number }} on {{ incident.reference }}: needs attention",
        """
        :warning: Update #{{ follow_up_number }} · {{ incident.reference }} is still {{ incident.status|lower }} after {{ incident.impact_duration }}.
        Blocker: {{ incident.partner_action or incident.vendor_action or incident.engineering_action or incident.root_cause }}
        Owner: {{ owner.name }}{% if incident.commander %} · commander {{ incident.commander }}{% endif %}{% if incident.war_room %} · war room {{ incident.war_room }}{% endif %} · SLA {{ sla.state }} · resolve by {{ sla.resolution_due }}
        """,
        follow_up_from=2,
        follow_up_to=2,
    ),
    _t(
        "internal-update-3",
        "Chat update #3 (urgent, SLA)",
        "internal",
        "chat",
        "follow_up",
        "URGENT: {{ incident.reference }} SLA {{ sla.state }}",
        """
        :red_circle: Update #{{ follow_up_number }} · {{ incident.reference }} ({{ incident.priority }}) — SLA {{ sla.state }}.
        Resolution is due {{ sla.resolution_due }}. What is needed to make it, and who owns it?
        Owner: {{ owner.name }}{% if incident.commander %} · commander {{ incident.commander }}{% endif %}{% if incident.war_room %} · war room {{ incident.war_room }}{% endif %} · {{ incident.url }}
        """,
        follow_up_from=3,
        follow_up_to=3,
    ),
    _t(
        "internal-update-4",
        "Chat update #4+ (escalation required)",
        "internal",
        "chat",
        "follow_up",
        "ESCALATE: {{ incident.reference }} update #{{ follow_up_number }}",
        """
        :rotating_light: Update #{{ follow_up_number }} · {{ incident.reference }} needs escalation now.
        Open for {{ incident.impact_duration }}, SLA {{ sla.state }}, customer sentiment {{ incident.sentiment }}.
        Owner {{ owner.name }}: escalate to the next tier and post the escalation note.
        {{ incident.url }}
        """,
        follow_up_from=4,
    ),
    _t(
        "internal-follow-up-note",
        "Internal note: recurring update",
        "internal",
        "note",
        "follow_up",
        "Update #{{ follow_up_number }}: {{ incident.status }}",
        """
        Update #{{ follow_up_number }} · status {{ incident.status }} · SLA {{ sla.state }}
        Root cause: {{ incident.root_cause }}
        Partner: {{ incident.partner_action or '—' }}
        Vendor: {{ incident.vendor_action or '—' }}
        Engineering: {{ incident.engineering_action or '—' }}
        Customer sentiment: {{ incident.sentiment }} · contacts: {{ incident.contact_count }}
        Next customer update due {{ next_customer_update_at or 'as needed' }}.
        """,
    ),
    # --- Follow-up: customer (tone 1, 2, 3, 4+) ---------------------------
    _t(
        "customer-follow-up-1",
        "Customer follow-up #1 (reassuring)",
        "customer",
        "email",
        "follow_up",
        "Update on {{ incident.reference }}: we're still on it",
        """
        Hello {{ customer.first_name }},

        A quick update: we are still working on your {{ incident.category }} issue.
        {% if incident.customer_summary %}Where things stand: {{ incident.customer_summary }}
        {% else %}We are narrowing down the cause and have ruled out the common ones.
        {% endif %}

        You don't need to do anything right now{% if next_update_at %}; we will update
        you again by {{ next_update_at }}{% endif %}.
        {% if status_page.url %}

        Live updates in between, on our status page: {{ status_page.url }}
        {% endif %}
        """
        + SIGN_OFF,
        follow_up_from=1,
        follow_up_to=1,
    ),
    _t(
        "customer-follow-up-2",
        "Customer follow-up #2 (empathetic, open about the wait)",
        "customer",
        "email",
        "follow_up",
        "{{ incident.reference }}: where things stand",
        """
        Hello {{ customer.first_name }},

        We're sorry this is taking longer than any of us would like. Here is exactly
        where things stand: {% if incident.needs_outside_help %}the fix needs action from one of our partners, and we are pressing them for a firm time.{% else %}our team is working through the fix.{% endif %}


        We will write again by {{ next_update_at }} with what has changed.
        {% if status_page.url %}

        Live updates in between, on our status page: {{ status_page.url }}
        {% endif %}
        """
        + SIGN_OFF,
        follow_up_from=2,
        follow_up_to=2,
    ),
    _t(
        "customer-follow-up-3",
        "Customer follow-up #3 (apologetic, taking ownership)",
        "customer",
        "email",
        "follow_up",
        "An apology and a plan for {{ incident.reference }}",
        """
        Hello {{ customer.first_name }},

        You have waited {{ incident.impact_duration }} and that is not good enough.
        {% if sender.is_person %}I'm taking personal ownership of your case until it is fixed.

        What I am doing: the case is now with our senior team, and I am following up
        with everyone involved several times a day. When it is fixed I will also
        review what we can do to make up for the disruption.

        You will hear from me by {{ next_update_at }} at the latest.{% else %}Your case is now with our senior team, and we are following up with
        everyone involved several times a day. When it is fixed we will also
        review what we can do to make up for the disruption.

        You will hear from us by {{ next_update_at }} at the latest.{% endif +%}
        {% if status_page.url %}

        Live updates in between, on our status page: {{ status_page.url }}
        {% endif %}
        """
        + SIGN_OFF,
        follow_up_from=3,
        follow_up_to=3,
    ),
    _t(
        "customer-follow-up-4",
        "Customer follow-up #4+ (executive empathy, firm commitments)",
        "customer",
        "email",
        "follow_up",
        "{{ incident.reference }}: our commitments to you",
        """
        Hello {{ customer.first_name }},

        This has gone on far too long, and our leadership team is now following your
        case directly. Here is what we commit to:

        - {{ owner.name }} owns your case and answers for the fix;
        - an update from us {% if next_update_at %}by {{ next_update_at }}{% else %}within a day{% endif %}, and at every step after;
        - a review of compensation once service is back.

        Thank you for your patience; we do not take it for granted.
        {% if status_page.url %}

        Live updates in between, on our status page: {{ status_page.url }}
        {% endif %}
        """
        + SIGN_OFF,
        follow_up_from=4,
    ),
    _t(
        "customer-checking-in",
        "Customer: checking in (no reply from you)",
        "customer",
        "email",
        "follow_up",
        "Checking in on {{ incident.reference }}",
        """
        Hello {{ customer.first_name }},

        We haven't heard back from you and want to make sure everything is working.
        If it is, no reply is needed: we will close {{ incident.reference }} in {{ auto_close.after_check_in or 'a few days' }}.
        If anything is still wrong, just reply and we will pick it straight back up.
        """
        + SIGN_OFF,
        situation="no_customer_reply",
    ),
    _t(
        "customer-progress-update",
        "Customer progress update (general)",
        "customer",
        "email",
        "follow_up",
        "Progress on {{ incident.reference }}",
        """
        Hello {{ customer.first_name }},

        Progress on {{ incident.reference }}:
        Status: {{ incident.status }}
        {% if incident.customer_summary %}What we know: {{ incident.customer_summary }}
        {% endif %}Next step: we will update you {% if next_update_at %}by {{ next_update_at }}{% else %}as soon as anything changes{% endif %}.
        """
        + SIGN_OFF,
    ),
    # --- Follow-up: partner and vendor (tone 1, 2, 3, 4+) -------------------
    *[
        _t(
            f"{party}-follow-up-{n}",
            f"{party.title()} follow-up #{label}",
            party,
            "email",
            "follow_up",
            subject + THEIR_TICKET,
            body + SIGN_OFF,
            follow_up_from=n,
            follow_up_to=n if n < 4 else None,
        )
        for party in ("partner", "vendor")
        for n, label, subject, body in (
            (
                1,
                "1 (professional)",
                "Follow-up #{{ follow_up_number }}: {{ incident.reference }}",
                """
                Hello {{ party.name }} team,

                Following up on {{ incident.reference }}. Could you share where your
                investigation stands? Our customer is still affected
                ({{ incident.service_status }}). Our next update is due {{ next_update_at }}.
                """,
            ),
            (
                2,
                "2 (firm, asking for a timeline)",
                "Follow-up #{{ follow_up_number }}: timeline needed for {{ incident.reference }}",
                """
                Hello {{ party.name }} team,

                This is our second follow-up on {{ incident.reference }} and we have no
                timeline yet. Please send an estimated time to resolution today: we have
                committed to our customer to resolve by {{ sla.resolution_due }}.
                """,
            ),
            (
                3,
                "3 (escalation warning)",
                "Follow-up #{{ follow_up_number }}: {{ incident.reference }} will be escalated",
                """
                Hello {{ party.name }} team,

                We still have no answer on {{ incident.reference }} after three requests.
                Unless we hear from you by {{ next_update_at }}, we will escalate to your
                management under our agreement (account {{ party.account_ref }}).
                """,
            ),
            (
                4,
                "4+ (formal escalation)",
                "Formal escalation: {{ incident.reference }}",
                """
                Hello {{ party.name }} team,

                We are formally escalating {{ incident.reference }} (account
                {{ party.account_ref }}) after {{ follow_up_number }} unanswered
                follow-ups. Please confirm a named owner and a resolution time.
                """,
            ),
        )
    ],
    _t(
        "internal-war-room-round",
        "Chat: war room status round",
        "internal",
        "chat",
        "follow_up",
        "Status round: {{ incident.reference }}",
        """
        :hourglass: Status round · {{ incident.reference }} ({{ incident.priority }}) {{ incident.title }}
        Everyone in the war room: what you did since the last round, what you see now, what you need.{% if incident.commander %} {{ incident.commander }} leads.{% endif +%}
        {% if incident.war_room %}Call: {{ incident.war_room }}
        {% endif %}Incident: {{ incident.url }}
        """,
    ),
    # --- Escalation -------------------------------------------------------
    _t(
        "internal-escalation-chat",
        "Chat: escalation alert",
        "internal",
        "chat",
        "escalation",
        "Escalation: {{ incident.reference }} ({{ incident.priority }})",
        """
        :arrow_up: Escalation · {{ incident.reference }} ({{ incident.priority }}){% if escalation.raised_by %} raised by {{ escalation.raised_by }}{% if escalation.approved_by %}, approved by {{ escalation.approved_by }}{% endif %}{% elif sender.is_person %} from {{ sender.name }}{% endif +%}
        Customer: {{ customer.name or 'systemic' }} · open {{ incident.impact_duration }}
        Issue: {{ escalation.summary or incident.title }}
        {% if escalation.tried %}Tried so far:
        {{ escalation.tried }}
        {% else %}Tried so far: nothing recorded on the escalation; see the timeline.
        {% endif %}Incident: {{ incident.url }}
        Customer expects the next update by {{ next_customer_update_at or 'the owner decides' }} and resolution by {{ sla.resolution_due }}.
        """,
    ),
    _t(
        "internal-urgent-escalation",
        "Chat: urgent escalation (many customers)",
        "internal",
        "chat",
        "escalation",
        "URGENT escalation: {{ incident.reference }}",
        """
        :rotating_light: URGENT · {{ incident.reference }} ({{ incident.priority }}) {{ incident.title }}
        {% if incident.is_systemic %}Affects {{ incident.affected_count }} customer{{ 's' if incident.affected_count != 1 else '' }} (systemic){% elif customer.name %}Customer: {{ customer.name }}{% if customer.email %} <{{ customer.email }}>{% endif %}{% else %}No customer recorded{% endif %} · SLA {{ sla.state }} · resolve by {{ sla.resolution_due }}
        {% if escalation.why %}Why it is urgent: {{ escalation.why }}
        {% if escalation.risk %}Immediate risk: {{ escalation.risk }}
        {% endif %}{% else %}{{ incident.what_happened }}
        {% endif %}Owner: {{ owner.name }}{% if incident.commander %} · commander {{ incident.commander }}{% endif %}{% if incident.war_room %} · war room {{ incident.war_room }}{% endif %} · {{ incident.url }}
        """,
        situation="urgent",
    ),
    _t(
        "partner-escalation",
        "Partner management: escalation",
        "partner",
        "email",
        "escalation",
        "Escalation: {{ incident.reference }} unresolved for {{ incident.impact_duration }}"
        + THEIR_TICKET,
        """
        Hello,

        We are escalating {{ incident.reference }} to you as {{ party.name }}'s
        management contact. It has been open for {{ incident.impact_duration }} and our
        follow-ups have not produced a resolution time.

        Impact: {% if incident.is_systemic %}{{ incident.affected_count }} of our customers{% else %}one of our customers{% endif %}, service {{ incident.service_status|lower }}.
        What we need from you: {{ incident.partner_action or 'an owner and a plan to fix it' }}
        Our account reference: {{ party.account_ref or 'not on file' }}
        """
        + PARTY_RECORD
        + """
        Our commitment to the customer: resolved by {{ sla.resolution_due }}.
        We ask for a named owner and a resolution time within 4 hours.
        """
        + SIGN_OFF,
    ),
    _t(
        "vendor-escalation",
        "Vendor account manager: SLA escalation",
        "vendor",
        "email",
        "escalation",
        "SLA escalation: {{ incident.reference }} (account {{ party.account_ref }})"
        + THEIR_TICKET,
        """
        Hello,

        We are escalating our support request for {{ incident.reference }} under our
        contract with {{ party.name }}: our follow-ups to your support team have
        gone unanswered and we still have no resolution time.

        What fails: {{ incident.title }} ({{ incident.severity }} priority for us)
        What we need: {{ incident.vendor_action or 'an investigation and an estimate' }}
        """
        + PARTY_RECORD
        + """
        Please send a named owner and a resolution timeline within 4 hours of this
        message.
        """
        + SIGN_OFF,
    ),
    _t(
        "customer-escalation",
        "Customer: your case has been escalated",
        "customer",
        "email",
        "escalation",
        "{{ incident.reference }} has been escalated",
        """
        Hello {{ customer.first_name }},

        To get this solved faster, we have passed your case to a specialist team with
        everything we have learned so far, so you won't need to repeat yourself.
        Keep writing to us as before; we will update you {% if next_update_at %}by {{ next_update_at }}{% else %}as soon as they report back{% endif %}.
        """
        + SIGN_OFF,
    ),
    _t(
        "customer-escalation-l2",
        "Customer: escalated to senior support",
        "customer",
        "email",
        "escalation",
        "{{ incident.reference }}: a senior specialist is taking over",
        """
        Hello {{ customer.first_name }},

        Your case now needs a senior specialist, so we have handed it over with all the
        details: you won't need to repeat anything. You will hear from us {% if escalation.promise %}within
        {{ escalation.promise }}{% elif next_update_at %}by {{ next_update_at }}{% else %}as soon as they
        report back{% endif %}, whether or not it is fixed by then.
        """
        + SIGN_OFF,
        situation="to_l2",
    ),
    _t(
        "customer-escalation-engineering",
        "Customer: escalated to engineering",
        "customer",
        "email",
        "escalation",
        "{{ incident.reference }}: our engineers are investigating",
        """
        Hello {{ customer.first_name }},

        This needs a fix in our systems, so our engineering team now has your case,
        with everything you have told us: you won't need to repeat anything. A fix of
        this kind usually takes 48 to 72 hours. We will keep you posted and update you
        {% if escalation.promise %}within {{ escalation.promise }}{% elif next_update_at %}by {{ next_update_at }}{% else %}as soon as they report back{% endif %}.
        """
        + SIGN_OFF,
        situation="to_engineering",
    ),
    _t(
        "customer-escalation-trust-safety",
        "Customer: sent for account review",
        "customer",
        "email",
        "escalation",
        "{{ incident.reference }}: your account is being reviewed",
        """
        Hello {{ customer.first_name }},

        To resolve this we need our account review team to take a look. Reviews
        usually take 24 to 48 hours. We will contact you if they need anything from you.
        """
        + SIGN_OFF,
        situation="to_trust_safety",
    ),
    _t(
        "customer-escalation-carrier",
        "Customer: waiting on the network carrier",
        "customer",
        "email",
        "escalation",
        "{{ incident.reference }}: we've asked the carrier to act",
        """
        Hello {{ customer.first_name }},

        The next step sits with the network carrier, and we have sent them everything
        they need, so you won't need to repeat anything. Carriers usually answer within
        1 to 3 business days. We will check in with you {% if escalation.promise %}at least every
        {{ escalation.promise }}{% else %}{{ cadence.customer or 'at every step' }}{% endif %} until it is done.
        """
        + SIGN_OFF,
        situation="to_carrier",
    ),
    _t(
        "internal-carrier-escalation-note",
        "Carrier team: escalation note",
        "internal",
        "note",
        "escalation",
        "Carrier escalation: {{ incident.reference }} ({{ incident.category }})",
        """
        Carrier escalation · {{ incident.reference }} ({{ incident.priority }})
        Customer: {{ customer.email }}{% if customer.phone %} · phone {{ customer.phone }}{% endif +%}
        Account number (old carrier): {{ customer.old_carrier_account or 'not on file' }}
        Account status: {{ customer.account_status or 'n/a' }}

        What happened: {{ incident.what_happened }}
        Carrier to do: {{ incident.partner_action or 'see the incident' }}
        Open for {{ incident.impact_duration }} · resolve by {{ sla.resolution_due }}
        {{ incident.url }}
        """,
        situation="to_carrier",
    ),
    _t(
        "customer-escalation-urgent",
        "Customer: treated as urgent",
        "customer",
        "email",
        "escalation",
        "{{ incident.reference }}: treated as urgent",
        """
        Hello {{ customer.first_name }},

        {% if incident.is_systemic %}This problem affects several customers, and it{% else %}Your case{% endif %} now has our urgent response
        team's full attention. We will update you {% if next_update_at %}by {{ next_update_at }}{% else %}as soon as anything changes{% endif %}.
        """
        + SIGN_OFF,
        situation="urgent",
    ),
    _t(
        "customer-escalation-no-answer",
        "Customer: the specialist team is late",
        "customer",
        "email",
        "escalation",
        "{{ incident.reference }}: still with our specialists",
        """
        Hello {{ customer.first_name }},

        A quick check-in: the specialist team has not finished yet, and we have
        chased them again today. We're sorry for the wait, and we will update you
        {% if next_update_at %}by {{ next_update_at }}{% else %}as soon as we hear from them{% endif %}.
        """
        + SIGN_OFF,
        situation="escalation_sla_missed",
    ),
    _t(
        "internal-manager-escalation",
        "Manager escalation",
        "internal",
        "email",
        "escalation",
        INCIDENT_SUBJECT + " · manager attention",
        """
        {{ incident.reference }} needs a manager's decision.

        Customer: {{ customer.company or customer.name or 'systemic' }} ({{ customer.segment or 'n/a' }})
        {% if customer.contact_name %}Contact: {{ customer.contact_name }}{% if customer.contact_title %}, {{ customer.contact_title }}{% endif %} · {{ customer.email }}{% if customer.phone %} · {{ customer.phone }}{% endif +%}
        {% endif %}{% if customer.annual_value %}Contract value: {{ customer.annual_value }}{% if customer.renewal_on %} · renews {{ customer.renewal_on }}{% endif +%}
        {% endif %}{% if customer.success_manager %}Customer success manager: {{ customer.success_manager }}
        {% endif %}Open for {{ incident.impact_duration }} · SLA {{ sla.state }} · sentiment {{ incident.sentiment }}
        Summary: {{ incident.what_happened }}
        Root cause: {{ incident.root_cause }}
        Owner: {{ owner.name }}{% if incident.commander %} · commander {{ incident.commander }}{% endif %}{% if incident.war_room %} · war room {{ incident.war_room }}{% endif %} · {{ incident.url }}
        """,
        situation="to_manager",
    ),
    _t(
        "internal-executive-escalation",
        "Executive escalation",
        "internal",
        "email",
        "escalation",
        # The agency playbook's executive tag, before the carrier playbook's
        # pattern every internal e-mail follows.
        "[EXECUTIVE ESCALATION] " + INCIDENT_SUBJECT,
        """
        A critical client issue needs an executive's attention, and probably a
        word from an executive to the client.

        {% if customer.name %}
        The client
        Company: {{ customer.company or customer.name }}
        {% if customer.package %}
        Package: {{ customer.package }}
        {% endif %}
        {% if customer.annual_value %}
        Annual value: {{ customer.annual_value }}
        {% endif %}
        {% if customer.relationship %}
        Relationship: {{ customer.relationship }}
        {% endif %}

        {% endif %}
        The issue ({{ incident.reference }}, {{ incident.priority }})
        Problem: {{ incident.title }}
        Business impact: {% if incident.is_systemic %}{{ incident.affected_count }} clients affected{% else %}one client affected{% endif %}, service {{ incident.service_status|lower }}
        Reputation risk: {% if incident.is_systemic %}high, many clients see it{% elif customer.is_vip %}high, a VIP client{% else %}contained to this client so far{% endif +%}
        Duration: {{ incident.impact_duration }}

        Where the resolution stands
        {% if escalation.tried %}
        Done so far:
        {{ escalation.tried }}
        {% else %}
        Done so far: see the incident timeline
        {% endif %}
        Current status: {{ incident.status }}; cause: {{ incident.root_cause }}
        Expected resolution: {{ sla.resolution_due }} (SLA {{ sla.state|lower }})

        What the client needs to hear
        - An executive acknowledging what it has cost them
        - A firm commitment to the resolution
        - That the relationship matters to us
        - An offer to go through how we will stop it happening again

        What we recommend
        - An executive calls or writes to the client's leadership today
        - Hold us to the expected resolution above, and to updates until then
        - Agree a review with the client once it is fixed

        {% if owner.name and owner.name != 'Unassigned' %}{{ owner.name }} owns the incident and can talk it through now{% else %}Nobody owns the incident yet: the support manager is on it{% endif %}: {{ incident.url }}
        """,
        situation="to_executive",
    ),
    # --- Resolution -------------------------------------------------------
    _t(
        "internal-resolution-note",
        "Internal note: resolved",
        "internal",
        "note",
        "resolution",
        "Resolved: {{ incident.reference }}",
        """
        Resolved {{ incident.resolved_at }} after {{ incident.impact_duration }}.
        Root cause: {{ incident.root_cause }}
        Time to detect: {{ metrics.time_to_detect }} · to first reply: {{ metrics.time_to_first_response }} · to resolve: {{ metrics.time_to_resolution }}
        SLA met: {{ metrics.sla_met }}
        Customer contacts during the incident: {{ incident.contact_count }}
        """,
    ),
    _t(
        "internal-resolution-chat",
        "Chat: incident resolved",
        "internal",
        "chat",
        "resolution",
        "Resolved: {{ incident.reference }}",
        """
        :white_check_mark: Resolved · {{ incident.reference }} ({{ incident.priority }}) {{ incident.title }}
        Cause: {{ incident.root_cause }} · {{ incident.impact_duration }} of impact
        Time to detect: {{ metrics.time_to_detect }} · to first reply: {{ metrics.time_to_first_response }} · to resolve: {{ metrics.time_to_resolution }}
        Customer contacts: {{ incident.contact_count }} · SLA met: {{ metrics.sla_met }}
        """,
    ),
    _t(
        "internal-systemic-resolution-chat",
        "Chat: systemic incident resolved",
        "internal",
        "chat",
        "resolution",
        "Systemic incident resolved: {{ incident.reference }}",
        """
        :white_check_mark: Systemic incident resolved · {{ incident.reference }}
        Customers affected: {{ incident.affected_count }} · impact {{ incident.impact_duration }}
        Cause: {{ incident.root_cause }} · SLA {{ sla.state }}
        A post-mortem is required; the owner will schedule it.
        """,
        situation="systemic",
    ),
    _t(
        "customer-resolution",
        "Customer: resolved",
        "customer",
        "email",
        "resolution",
        "Resolved: {{ incident.reference }}",
        """
        Hello {{ customer.first_name }},

        Good news: the problem is fixed.

        What was wrong: {{ incident.customer_summary }}
        What we did: {{ incident.fix }}

        Please check that everything works for you. If anything is still wrong,
        reply to this e-mail and we will reopen your case straight away.
        {% if survey.url %}

        How did we do? One question, under a minute: {{ survey.url }}
        {% endif %}
        """
        + SIGN_OFF,
    ),
    _t(
        "customer-resolution-proactive",
        "Customer: fixed (we found it first)",
        "customer",
        "email",
        "resolution",
        "Fixed: the {{ incident.category }} issue we told you about",
        """
        Hello {{ customer.first_name }},

        The problem we spotted on your account is fixed and your service is back to
        normal.

        What was wrong: {{ incident.customer_summary }}
        What we did: {{ incident.fix }}

        Nothing is needed from you. Thank you for bearing with us.
        {% if survey.url %}

        How did we do? One question, under a minute: {{ survey.url }}
        {% endif %}
        """
        + SIGN_OFF,
        situation="proactive",
    ),
    _t(
        "customer-resolution-multiple-contacts",
        "Customer: fixed after several contacts (with apology)",
        "customer",
        "email",
        "resolution",
        "Fixed, and an apology: {{ incident.reference }}",
        """
        Hello {{ customer.first_name }},

        The problem is fixed. You had to contact us {{ incident.contact_count }} times
        to get here, and we're sorry for that: it should have been once.

        What went wrong: {{ incident.customer_summary }}
        What we did: {{ incident.fix }}

        If this cost you money or time, reply to this e-mail and we will look at
        how to make it up to you.
        {% if survey.url %}

        How did we do? One question, under a minute: {{ survey.url }}
        {% endif %}
        """
        + SIGN_OFF,
        situation="multiple_contacts",
    ),
    _t(
        "customer-resolution-outage-restored",
        "Customer: service restored after an outage",
        "customer",
        "email",
        "resolution",
        "Your {{ incident.category }} service is restored",
        """
        Hello {{ customer.first_name }},

        The outage that affected your service since {{ incident.impact_started_at or incident.opened_at }}
        is over and service is fully restored.

        What happened: {{ incident.customer_summary }}
        What we did: {{ incident.fix }}

        If anything still doesn't work, restart your device once; if that doesn't
        help, reply and we will sort it out.
        {% if survey.url %}

        How did we do? One question, under a minute: {{ survey.url }}
        {% endif %}
        """
        + SIGN_OFF,
        situation="outage_restored",
    ),
    _t(
        "partner-resolution",
        "Partner: resolved, please close",
        "partner",
        "email",
        "resolution",
        "Resolved: {{ incident.reference }} — please close your ticket",
        """
        Hello {{ party.name }} team,

        {{ incident.reference }} is resolved on our side and the customer impact has
        ended. Thank you for your help. Please close your ticket and share any
        root-cause notes you have.
        """
        + SIGN_OFF,
    ),
    _t(
        "vendor-resolution",
        "Vendor: resolved, please close",
        "vendor",
        "email",
        "resolution",
        "Resolved: {{ incident.reference }} — please close",
        """
        Hello {{ party.name }} support,

        The issue in {{ incident.reference }} is resolved and confirmed in production.
        Please close the ticket on your side. Thank you for your help.
        """
        + SIGN_OFF,
    ),
    # --- Closure and auto-close -------------------------------------------
    _t(
        "customer-thank-you",
        "Customer: thank you for confirming",
        "customer",
        "email",
        "closure",
        "Thank you — {{ incident.reference }} is closed",
        """
        Hello {{ customer.first_name }},

        Thank you for confirming everything works. We have closed
        {{ incident.reference }}. If anything comes up again, just reply.
        """
        + SIGN_OFF,
        situation="customer_confirmed",
    ),
    _t(
        "customer-auto-close-resolved",
        "Customer: closing as resolved (no reply)",
        "customer",
        "email",
        "auto_close",
        "Closing {{ incident.reference }} as resolved",
        """
        Hello {{ customer.first_name }},

        We fixed your issue and haven't heard back, so we are closing
        {{ incident.reference }} as resolved. If the problem returns, reply to this
        e-mail and we will reopen it with its full history.
        """
        + SIGN_OFF,
        situation="resolved_no_reply",
    ),
    _t(
        "customer-auto-close-waiting",
        "Customer: closing while we wait for you",
        "customer",
        "email",
        "auto_close",
        "Closing {{ incident.reference }} for now",
        """
        Hello {{ customer.first_name }},

        We needed some information from you to continue and haven't heard back in
        {{ auto_close.waiting_for or 'a while' }}, so we are closing {{ incident.reference }} for now.
        Reply whenever you are ready and we will reopen it right where we left off.
        """
        + SIGN_OFF,
        situation="waiting_on_customer",
    ),
    # --- Post-incident ------------------------------------------------------
    _t(
        "internal-post-mortem-summary",
        "Post-mortem summary",
        "internal",
        "note",
        "post_incident",
        "Post-mortem: {{ incident.reference }} {{ incident.title }}",
        """
        Post-mortem · {{ incident.reference }} ({{ incident.severity }})
        Opened {{ incident.opened_at }} · resolved {{ incident.resolved_at }}
        Impact: {{ incident.what_happened }} ({{ incident.affected_count }} customers)
        Root cause: {{ incident.root_cause }}
        SLA: {{ sla.state }}
        What went well / what went wrong / actions: see the post-mortem page,
        {{ incident.url }}
        """,
    ),
    _t(
        "customer-post-incident",
        "Customer: follow-up after the incident",
        "customer",
        "email",
        "post_incident",
        "Following up on {{ incident.reference }}",
        """
        Hello {{ customer.first_name }},

        Now that {{ incident.reference }} is behind us, we want to share what we
        found and what we are changing.

        What went wrong: {{ incident.customer_summary }}
        What we did: {{ incident.fix }}

        We have put measures in place so it does not happen again. How did we do?
        {% if sender.is_person %}Your reply goes straight to me.{% else %}Your reply reaches the team that handled it.{% endif +%}
        """
        + SIGN_OFF,
    ),
    # Credits and refunds: sent once when a credit is approved.
    _t(
        "customer-credit-approved",
        "Customer: credit or refund approved",
        "customer",
        "email",
        "post_incident",
        "{{ incident.reference }}: {{ credit.kind or 'a goodwill gesture' }} for "
        "your account",
        """
        Hello {{ customer.first_name }},

        We know this problem cost you time and trouble, and we want to make up
        for it.

        {% if credit.extension_days %}We have approved a plan extension: {{ credit.extension_days }} extra days on
        your plan, worth {{ credit.amount }}.{% elif credit.amount %}We have approved {{ credit.kind }} of {{ credit.amount }} on your account.{% else %}We have approved a goodwill gesture on your account.{% endif +%}

        It will show on your account or next bill once billing has processed it;
        there is nothing you need to do. If it has not appeared within two
        billing cycles, reply to this e-mail and we will chase it for you.

        Thank you for your patience.
        """
        + SIGN_OFF,
        situation="credit_approved",
    ),
    # Sent when a credit the customer was told of is cancelled after all.
    _t(
        "customer-credit-cancelled",
        "Customer: approved credit or refund cancelled",
        "customer",
        "email",
        "post_incident",
        "{{ incident.reference }}: a change to the {{ credit.kind or 'goodwill gesture' }} "
        "we told you about",
        """
        Hello {{ customer.first_name }},

        We wrote to you earlier that we had approved {% if credit.amount %}{{ credit.kind }} of {{ credit.amount }}{% else %}a goodwill gesture{% endif %}
        after {{ incident.reference }}. We have had to cancel it, and it will not
        appear on your account or bill.

        We are sorry for the confusion. If you have questions, or think this is
        wrong, reply to this e-mail and a person will look at it with you.
        """
        + SIGN_OFF,
        situation="credit_cancelled",
    ),
    # --- Security incident notice (fleet escalation playbook, step 6) -----
    # Sent only after Legal approved it: the composer refuses it before.
    _t(
        "customer-security-notice",
        "Customer: security notice (after Legal's approval)",
        "customer",
        "email",
        "follow_up",
        "Important security notice about your account",
        """
        Hello {{ customer.first_name }},

        We are writing to tell you about a security incident that may have
        affected your account. On {{ incident.opened_at }} we found {{ security.found or 'a security problem in our systems' }}, and we began
        investigating straight away.

        What was affected
        {{ incident.customer_summary or 'We are still establishing exactly what was affected, and we will write again as soon as we know.' }}

        What we have done
        {% if incident.fix %}{{ incident.fix }}
        {% endif %}{% if security.steps_taken %}{{ security.steps_taken }}
        {% endif %}{% if not incident.fix and not security.steps_taken %}We are still working to secure our systems and will tell you what we did as soon as it is done.
        {% endif %}

        What we ask you to do
        - Change your password now.
        - Turn on two-factor authentication.
        - Watch your account for activity you do not recognise.
        - Be wary of e-mails that pretend to come from us.

        We take the protection of your data seriously and we are sorry this
        happened. Reply to this e-mail with any question.
        """
        + SIGN_OFF,
        situation="security_notice",
    ),
]
