"""The Compose tab: which templates fit, which is due next, and the prefilled
message."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods

from incidents.models import Incident
from portal.actions import (
    AlreadyDone,
    already_done,
    claim_form_key,
    note_form_done,
)

from .. import selectors, services
from ..catalogue import reader_context, security_words
from ..forms import (
    ComposeForm,
)
from ..models import (
    Audience,
    Channel,
    ExternalParty,
    Message,
    MessageTemplate,
    MessageTemplateVersion,
    Situation,
    Stage,
)
from ..services import outbound
from .messages import choice_param, incident_or_404, int_param, outcome_message


def _due_next(suggestions: list[dict]) -> dict | None:
    """Return the suggestion the composer opens with: the customer's first."""
    with_template = [s for s in suggestions if s["template"]]
    customer = [s for s in with_template if s["audience"] == Audience.CUSTOMER]
    return (customer or with_template or [None])[0]


def _follow_up_for(template: MessageTemplate, next_numbers: dict) -> int | None:
    """Return the follow-up number a follow-up template would be sent as."""
    if template.stage != Stage.FOLLOW_UP:
        return None
    number = next_numbers.get(template.audience, 1)
    low = template.follow_up_from or 1
    high = template.follow_up_to
    if number < low or (high is not None and number > high):
        return low
    return number


def _template_choices(
    incident: Incident, suggestions: list[dict], in_hand: dict
) -> list[dict]:
    """Group every template that fits the incident by audience and stage."""
    sent = selectors.sent_counts(incident, in_hand=in_hand)
    next_numbers = {
        audience: sent.get((audience, Stage.FOLLOW_UP), 0) + 1
        for audience in Audience.values
    }
    due = {s["template"].pk for s in suggestions if s["template"]}
    missing = services.missing_resolution_facts(incident)
    groups: list[dict] = []
    for template in selectors.templates_for_incident(incident):
        audience = Audience(template.audience).label
        stage = Stage(template.stage).label
        if not groups or groups[-1]["audience"] != audience:
            groups.append({"audience": audience, "stages": []})
        stages = groups[-1]["stages"]
        if not stages or stages[-1]["stage"] != stage:
            stages.append({"stage": stage, "templates": []})
        stages[-1]["templates"].append(
            {
                "template": template,
                "follow_up": _follow_up_for(template, next_numbers),
                "is_due": template.pk in due,
                "needs": missing
                if template.audience == Audience.CUSTOMER
                and template.stage in services.FACT_STAGES
                else [],
            }
        )
        groups[-1]["count"] = groups[-1].get("count", 0) + 1
    return groups


def _due_now(groups: list[dict]) -> list[dict]:
    """The templates owed now, listed above the library so they come first."""
    return [
        choice
        for group in groups
        for stage in group["stages"]
        for choice in stage["templates"]
        if choice["is_due"]
    ]


def _fitting_template(
    incident: Incident, request, suggestions: list[dict]
) -> MessageTemplate | None:
    """The template a link's audience, stage and situation point at: the one
    due for them if any, else the first of the library that matches."""
    wanted = {
        key: request.GET[key]
        for key in ("audience", "channel", "stage", "situation")
        if request.GET.get(key)
    }
    if not wanted:
        return None

    def fits(template: MessageTemplate) -> bool:
        return all(getattr(template, key) == value for key, value in wanted.items())

    for suggestion in suggestions:
        if suggestion["template"] and fits(suggestion["template"]):
            return _with_version(suggestion["template"].pk)
    for template in selectors.templates_for_incident(incident):
        if fits(template):
            return _with_version(template.pk)
    return None


def _with_version(pk: int) -> MessageTemplate | None:
    return (
        MessageTemplate.objects.select_related("current_version")
        .filter(pk=pk, current_version__isnull=False)
        .first()
    )


def _prefill(request, incident: Incident, suggestions: list[dict]) -> dict:
    """Render the chosen template (else the one due next) into the composer."""
    template = None
    wanted = int_param(request, "template")
    params_given = bool(request.GET)
    if wanted:
        template = _with_version(wanted)
    due = None if params_given else _due_next(suggestions)
    if due:
        template = due["template"]
    elif params_given and not wanted and not request.GET.get("message"):
        # A link that names an audience and stage (the Closure tab, My work)
        # opens the template that fits them, not an empty form.
        template = _fitting_template(incident, request, suggestions)
    follow_up = int_param(request, "follow_up")
    initial = {
        "audience": choice_param(request, "audience", Audience.choices, "customer"),
        "channel": choice_param(request, "channel", Channel.choices, "email"),
        "stage": choice_param(request, "stage", Stage.choices, "creation"),
        "situation": choice_param(request, "situation", Situation.choices, ""),
        "follow_up_number": follow_up if follow_up and follow_up <= 99 else None,
    }
    if due:
        initial.update(
            situation=due["situation"], follow_up_number=due["follow_up_number"]
        )
    if template:
        # The template decides who it is for, whatever the link said.
        initial.update(
            audience=template.audience, channel=template.channel, stage=template.stage
        )
        if template.situation:
            initial["situation"] = template.situation
    party = None
    if int_param(request, "party"):
        party = ExternalParty.objects.filter(pk=int_param(request, "party")).first()
    if party is None and initial["audience"] in ("partner", "vendor"):
        party = ExternalParty.objects.filter(
            kind=initial["audience"], is_active=True
        ).first()
    initial["party"] = party
    missing = (
        services.missing_resolution_facts(incident)
        if initial["audience"] == Audience.CUSTOMER
        and initial["stage"] in services.FACT_STAGES
        else []
    )
    if missing:
        messages.warning(
            request,
            "Before the customer can be told it is fixed, fill in on the incident "
            f"(Edit): {' and '.join(missing)}.",
        )
    elif template:
        context = reader_context(
            request,
            incident,
            security=security_words(incident)
            if template.situation == Situation.SECURITY_NOTICE
            else None,
            audience=template.audience,
            follow_up_number=initial["follow_up_number"]
            or template.follow_up_from
            or 0,
            party=party,
        )
        try:
            rendered = services.preview_template(
                version=template.current_version, context=context
            )
        except ValidationError as exc:
            messages.error(
                request, f"The template could not be rendered: {exc.messages[0]}"
            )
        else:
            initial.update(
                subject=rendered.subject,
                body=rendered.body,
                template_version=template.current_version_id,
            )
    initial["recipients"] = selectors.default_recipients(
        incident,
        audience=initial["audience"],
        channel=initial["channel"],
        stage=initial["stage"],
        party=party,
    )
    return initial


def _tone(incident: Incident, *, stage: str) -> dict:
    """Return the policy's tone standard for this incident, to write by."""
    target = selectors.policy_target_for(incident)
    if target is None:
        return {}
    policy = target.policy
    return {
        "policy": policy.name,
        "severity": incident.get_priority_display(),
        "points": target.tone_guidance.splitlines(),
        "language": policy.language_standards.splitlines(),
        "say": policy.phrases_to_say,
        "never_say": policy.phrases_never_said,
        "post_incident": policy.post_incident_tone
        if stage == Stage.POST_INCIDENT
        else "",
    }


def _editing(request, incident: Incident) -> Message | None:
    """Return the draft or scheduled message being edited, if any."""
    message_pk = int_param(request, "message") or (
        request.POST.get("message", "").isdecimal() and int(request.POST["message"][:9])
    )
    if not message_pk:
        return None
    return get_object_or_404(Message, pk=message_pk, incident=incident)


def _initial_from(message: Message) -> dict:
    return {
        "message": message.pk,
        "template_version": message.template_version_id,
        "audience": message.audience,
        "channel": message.channel,
        "stage": message.stage,
        "situation": message.situation,
        "follow_up_number": message.follow_up_number,
        "party": message.party,
        "recipients": message.recipients,
        "subject": message.subject,
        "body": message.body,
        "send_after": message.send_after,
    }


def _offer_status_page_post(request, incident: Incident, message: Message) -> None:
    """After a customer update on an incident a status page shows, offer the
    public post too: the page's words are written for everyone, not copied
    from one customer's e-mail."""
    if message.status == Message.Status.DRAFT or message.audience != "customer":
        return
    shown = (
        incident.publications.filter(starts_at__isnull=False)
        .exclude(status__in=["resolved", "completed"])
        .select_related("page")
        .first()
    )
    if shown is not None:
        messages.info(
            request,
            format_html(
                '{} shows this incident: <a href="{}?page={}">post an update '
                "there too</a>.",
                shown.page.name,
                reverse("statuspage:publish", args=[incident.pk]),
                shown.page.slug,
            ),
        )


def _save_or_send(
    request, *, incident, editing, is_draft, override_reason, fields
) -> Message:
    if editing:
        return services.revise_message(
            message=editing,
            actor=request.user,
            send=not is_draft,
            override_reason=override_reason,
            **fields,
        )
    if is_draft:
        return services.save_draft(incident=incident, actor=request.user, **fields)
    return services.send_message(
        incident=incident,
        actor=request.user,
        override_reason=override_reason,
        **fields,
    )


def _phrases_to_stop(request, incident: Incident, form: ComposeForm) -> list[str]:
    """What a customer message being sent says that the policy asks never to
    say, unless the sender already confirmed they mean it."""
    data = form.cleaned_data
    if request.POST.get("action") == "Save draft" or data.get("say_it_anyway"):
        return []
    return outbound.phrases_to_avoid(
        incident,
        audience=data["audience"],
        subject=data.get("subject") or "",
        body=data["body"],
    )


@require_http_methods(["GET", "POST"])
@permission_required("comms.send_message", raise_exception=True)
def compose(request, pk):
    incident = incident_or_404(pk)
    editing = _editing(request, incident)
    in_hand = selectors.messages_in_hand(incident)
    suggestions = selectors.suggested_messages(incident, in_hand=in_hand)
    contact_hold = outbound.customer_contact_hold(incident)
    hold = contact_hold[1]
    security_hold = bool(hold)
    if request.method == "POST":
        form = ComposeForm(
            request.POST,
            security_hold=security_hold,
            asks_about_phrases="say_it_anyway" in request.POST,
        )
        said = _phrases_to_stop(request, incident, form) if form.is_valid() else []
        if said:
            # Stopped once: the sender rewords it, or ticks that they mean it.
            form = ComposeForm(
                request.POST, security_hold=security_hold, asks_about_phrases=True
            )
            form.is_valid()
            form.add_error(
                "body",
                "This says "
                + ", ".join(f"“{phrase}”" for phrase in said)
                + ", which our policy asks us never to tell a customer. Reword "
                "it, or tick “Send it as written” below the text.",
            )
        elif form.is_valid():
            fields = form.message_fields()
            version_id = form.cleaned_data.get("template_version")
            fields["template_version"] = (
                MessageTemplateVersion.objects.filter(pk=version_id).first()
                if version_id
                else None
            )
            is_draft = request.POST.get("action") == "Save draft"
            override_reason = form.cleaned_data.get("override_reason") or ""
            done_url = reverse("comms:incident_messages", args=[incident.pk])
            try:
                with transaction.atomic():
                    submission = claim_form_key(request)
                    message = _save_or_send(
                        request,
                        incident=incident,
                        editing=editing,
                        is_draft=is_draft,
                        override_reason=override_reason,
                        fields=fields,
                    )
                    note_form_done(submission, done_url)
            except AlreadyDone as exc:
                return already_done(request, exc, done_url)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, outcome_message(message))
                _offer_status_page_post(request, incident, message)
                return redirect(done_url)
    elif editing:
        form = ComposeForm(initial=_initial_from(editing), security_hold=security_hold)
    else:
        form = ComposeForm(
            initial=_prefill(request, incident, suggestions),
            security_hold=security_hold,
        )
    recipients = form["recipients"].value() or []
    if isinstance(recipients, str):
        try:
            recipients = form.fields["recipients"].to_python(recipients)
        except ValidationError:
            recipients = []  # the form shows why
    template_groups = _template_choices(incident, suggestions, in_hand)
    return render(
        request,
        "comms/compose.html",
        {
            "incident": incident,
            "form": form,
            "editing": editing,
            "template_groups": template_groups,
            "due_now": _due_now(template_groups),
            "tone": _tone(incident, stage=form["stage"].value()),
            "security_hold": hold,
            "contact_hold": contact_hold,
            "email_count": len(recipients)
            if form["audience"].value() == Audience.CUSTOMER
            and form["channel"].value() == Channel.EMAIL
            else None,
        },
    )
