"""Post hostile values to every form of the portal and of our admin.

No input may produce a server error. The forms are found, not listed: every
URL pattern served by our apps is posted to once while the forms it builds
are recorded, and every admin add and change page of our models is read for
its form and inlines. Each input is then set in turn to each hostile value,
with every other input holding a valid value, so the value reaches the
services and the database whenever the form lets it through.

The doors machines use read JSON, not forms: each field of a valid body is
set in turn to each hostile JSON value, and the answer must be JSON, a 2xx
or a 4xx that names the field.
"""

import datetime as dt
import inspect
import json
import logging
import re
from decimal import Decimal
from urllib.parse import quote, quote_plus, urlencode

import pytest
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import QueryDict
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from comms import services as comms_services
from comms.models import ChatRoute, ExternalParty, FollowUpLoop, Message
from incidents import services as incident_services
from incidents.forms import CustomerField
from incidents.models import Priority, StaffProfile
from integrations import subscriptions
from tests.factories import (
    CustomerFactory,
    IncidentFactory,
    UserFactory,
    save_test_draft,
    send_test_message,
)

OUR_APPS = ("incidents", "comms", "escalations", "statuspage", "integrations", "api")
# A zone 14 hours ahead of UTC: dates at the edge of the calendar overflow
# when converted.
FAR_ZONE = "Pacific/Kiritimati"

# Raw request bytes, so invalid UTF-8 reaches the server as a browser or a
# script could send it.
VALUES = {
    "empty": [b""],
    # Past every length limit of ours (the longest, a template's text, is
    # 50,000 characters); a megabyte only made each request ten times slower.
    "long": [b"x" * 100_000],
    "nul": [b"a%00b", quote('["a\\u0000"]').encode()],
    "surrogate": [b"\xed\xa0\x80", b"%ED%A0%80", quote('"\\ud800"').encode()],
    "markup": [quote_plus("<script>alert(1)</script>\"'><b>x").encode()],
    "number": [b"2147483648", b"-2147483649", b"9" * 40],
    "date": [b"0001-01-01", b"9999-12-31", b"0000-00-00"],
}
SCRIPT = b"<script>alert(1)</script>"
FUZZ_ACCOUNT = "ACC-FUZZ1"
CHEAP_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Discovery -----------------------------------------------------------------


def _our_url_patterns(resolver=None, namespace=""):
    """Yield (url name, pattern) for every view of our apps."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "api_v1":
                # JSON, not forms: tests/api/test_bad_input.py fuzzes it.
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _our_url_patterns(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            module = getattr(entry.callback, "__module__", "")
            if module.split(".")[0] in OUR_APPS:
                yield f"{namespace}{entry.name}", entry


def _our_admins():
    """Yield (model label, page) for every admin add and change form of ours."""
    for model, model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label
    ):
        if model._meta.app_label not in OUR_APPS:
            continue
        for page in ("add", "change", "changelist"):
            yield model._meta.label, page, model_admin


URL_NAMES = sorted(name for name, _ in _our_url_patterns())
ADMIN_PAGES = [(label, page) for label, page, _ in _our_admins()]


class _Recorder:
    """Record the forms built and the request inputs read during a request."""

    def __init__(self, monkeypatch):
        self.forms = []
        self.keys = []
        recorder = self
        # The metaclass's __call__ sees the arguments the form was built
        # with, before any __init__ takes its own keywords out.
        metaclass = forms.forms.DeclarativeFieldsMetaclass
        original_call = metaclass.__call__

        def build(cls, *args, **kwargs):
            form = original_call(cls, *args, **kwargs)
            recorder.forms.append((form, args, kwargs))
            return form

        self.monkeypatch = monkeypatch
        monkeypatch.setattr(metaclass, "__call__", build)
        for method in ("get", "getlist", "__getitem__"):
            original = getattr(QueryDict, method)

            def reading(qd, key, *args, _original=original, **kwargs):
                if key not in recorder.keys:
                    recorder.keys.append(key)
                return _original(qd, key, *args, **kwargs)

            monkeypatch.setattr(QueryDict, method, reading)

    def stop(self):
        self.monkeypatch.undo()


@pytest.fixture(autouse=True)
def _inbound_mail_configured(settings):
    # Unconfigured, the inbound-mail webhook answers 503 on purpose (it cannot
    # tell real mail from forged); configured, bad input must get a 4xx.
    settings.INBOUND_MAIL_SECRET = "fuzz-secret"


# Valid values ----------------------------------------------------------------


def _as_text(widget, value) -> str:
    if value is None:
        return ""
    if isinstance(widget, forms.widgets.DateTimeBaseInput):
        return str(widget.format_value(value) or "")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _generated(field, world, name=""):
    """Return a valid value for a required field with nothing in it."""
    if isinstance(field, CustomerField):
        return world["customer"].account_id
    if name == "incident" and not isinstance(field, forms.ModelChoiceField):
        return world["incident"].reference  # typed as a reference (INC-…)
    if isinstance(field, forms.ModelChoiceField):
        first = field.queryset.first()
        return first.pk if first else ""
    if isinstance(field, forms.ChoiceField):
        first = next((str(v) for v, _ in field.choices if v not in ("", None)), "")
        return [first] if isinstance(field, forms.MultipleChoiceField) else first
    if isinstance(field, forms.EmailField):
        return "fuzz@example.com"
    if isinstance(field, forms.URLField):
        return "https://example.com/hook"
    if isinstance(field, forms.SlugField):
        return "fuzz-slug"
    if isinstance(field, forms.BooleanField):
        return True
    if isinstance(field, forms.IntegerField | forms.DecimalField):
        return field.min_value if field.min_value is not None else 1
    if isinstance(field, forms.DateTimeField | forms.SplitDateTimeField):
        return timezone.now()
    if isinstance(field, forms.DateField):
        return dt.date(2026, 1, 5)
    if isinstance(field, forms.JSONField):
        return "[]"
    if getattr(field.widget, "input_type", None) == "month":
        return "2026-01"
    return "Fuzz"


def _fits(field, value) -> bool:
    """Tell whether an object's value can be a choice field's value.

    An object's attribute may share a field's name but not its choices (an
    incident's status is not a plan row's).
    """
    if isinstance(field, forms.ModelChoiceField | forms.MultipleChoiceField):
        return not isinstance(field, forms.MultipleChoiceField) or isinstance(
            value, list | tuple
        )
    if isinstance(field, forms.ChoiceField) and value not in (None, ""):
        return field.valid_value(value)
    return True


def _submitted(form, world, objects=()) -> dict:
    """Return what a browser submits for an unbound form, filled in validly."""
    data = {}
    for bf in form:
        field, widget = bf.field, bf.field.widget
        value = None
        for obj in objects:
            if isinstance(getattr(type(obj), bf.name, None), property):
                continue
            if hasattr(obj, bf.name) and not isinstance(obj, forms.BaseForm):
                value = field.prepare_value(getattr(obj, bf.name))
                if _fits(field, value):
                    break
        else:
            value = bf.value()
        if value in (None, "", [], ()) and field.required:
            value = field.prepare_value(_generated(field, world, bf.name))
        inner = getattr(widget, "widget", widget)  # admin's related wrapper
        if isinstance(inner, forms.MultiWidget):
            parts = value if isinstance(value, list) else inner.decompress(value)
            for suffix, sub, part in zip(
                inner.widgets_names, inner.widgets, parts, strict=True
            ):
                data[bf.html_name + suffix] = _as_text(sub, part)
        elif isinstance(inner, forms.CheckboxInput):
            if inner.check_test(value):
                data[bf.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bf.html_name] = [str(v) for v in value]
        else:
            data[bf.html_name] = _as_text(inner, value)
    return data


def _body(data: dict, key: str, raw: bytes) -> bytes:
    """Encode a form body with ``key`` set to the raw bytes given."""
    others = {k: v for k, v in data.items() if k != key}
    encoded = urlencode(others, doseq=True).encode()
    pair = quote_plus(key).encode() + b"=" + raw
    return encoded + b"&" + pair if encoded else pair


# Fixtures ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def cheap_passwords(settings):
    """Hash passwords cheaply: the default costs about two seconds a user."""
    settings.PASSWORD_HASHERS = CHEAP_HASHERS


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One of everything a form or page of ours works on.

    Built once for the module inside a transaction that is rolled back after
    it; each test runs in a savepoint of its own on top.
    """
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=CHEAP_HASHERS),
        transaction.atomic(),
    ):
        yield _world()
        transaction.set_rollback(True)
    # The webhooks' endpoints are kept per process: the rolled-back ones go.
    subscriptions.forget()


def _world():
    agent = UserFactory(username="fuzz-agent", role="Agent")
    customer = CustomerFactory(account_id=FUZZ_ACCOUNT)
    incident = IncidentFactory(
        customer=customer, is_systemic=True, priority=Priority.P2, actor=agent
    )
    item = incident_services.add_immediate_action(
        incident=incident, actor=agent, what="Call the partner", who="Ana"
    )
    awaiting = send_test_message(incident, agent)
    assert awaiting.status == Message.Status.AWAITING_APPROVAL
    draft = save_test_draft(
        incident,
        agent,
        audience="internal",
        channel="note",
        follow_up_number=None,
        recipients=[],
        subject="",
        body="Thinking out loud.",
    )
    party = ExternalParty.objects.create(
        kind="partner", name="Fuzz Partner", support_email="support@example.com"
    )
    # A partner's loop, for the page that notes the partner's own ticket.
    partner_loop = FollowUpLoop.objects.create(
        incident=incident,
        audience="partner",
        party=party,
        priority=incident.priority,
        policy=incident.policy,
        cadence_minutes=240,
        started_at=timezone.now(),
    )
    ChatRoute.objects.create(channel_name="#fuzz", ping="@here")
    comms_services.log_reply(
        incident=incident, actor=agent, sender_kind="customer", text="Still broken."
    )
    reply = comms_services.log_reply(
        incident=incident, actor=agent, sender_kind="customer", text="It works now."
    )
    StaffProfile.objects.get_or_create(user=agent)
    escalations = _escalation_world(incident, agent)
    return {
        **_outward_world(incident, agent),
        **escalations,
        **_later_world(incident, agent),
        "reply_pk": reply,
        "customer": customer,
        "incident": incident,
        "item_pk": item,
        "pk": incident,
        "message_pk": awaiting,
        "party": party,
        "loop_pk": partner_loop,
        "draft": draft,
    }


def _outward_world(incident, agent) -> dict:
    """A status page with a post and a reader, a webhook, an API token."""
    from api.services import issue_api_token
    from integrations.models import WebhookDelivery, WebhookEndpoint
    from statuspage.models import (
        Component,
        ComponentGroup,
        Publication,
        PublicUpdate,
        StatusPage,
        Subscriber,
    )
    from statuspage.services import subscribers

    now = timezone.now()
    page = StatusPage.objects.create(name="Fuzz status", slug="fuzz", brand_text="F")
    component = Component.objects.create(
        page=page,
        group=ComponentGroup.objects.create(page=page, name="Core"),
        name="Sync",
    )
    publication = Publication.objects.create(
        page=page,
        incident=incident,
        title="Sync is slow",
        impact="degraded",
        starts_at=now,
    )
    publication.components.add(component)
    update = PublicUpdate.objects.create(
        publication=publication,
        status="investigating",
        impact="degraded",
        body="Looking into it.",
        posted_at=now,
    )
    update.components.add(component)
    reader = Subscriber.objects.create(
        page=page, email="reader@example.com", confirmed_at=now
    )
    # Inactive: the world's own timeline makes no deliveries.
    endpoint = WebhookEndpoint.objects.create(
        name="Fuzz", url="https://example.com/hook", events=[], is_active=False
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint, event="ping", payload={"event": "ping"}, status="failed"
    )
    issue_api_token(user=agent, name="Fuzz token", scope="read", actor=agent)
    return {
        "slug": page.slug,
        "publication": publication,
        "confirm_token": subscribers.confirm_path(
            subscriber=reader, component_ids=[component.pk]
        ).split("/")[-2],
        "unsubscribe_token": subscribers.unsubscribe_path(subscriber=reader).split("/")[
            -2
        ],
    }


def _escalation_world(incident, agent) -> dict:
    """Escalations: one awaiting approval, one with a bug report."""
    from escalations import services as escalation_services
    from escalations.models import EscalationFiring, PageDelivery, Tier
    from tests.factories import request_test_escalation

    UserFactory(username="fuzz-senior", role="Senior agent")
    (escalation,) = request_test_escalation(
        incident, agent, refund_amount=Decimal("250")
    )
    engineering = Tier.objects.get(policy=incident.policy, key="engineering")
    engineering.members.add(UserFactory(username="fuzz-engineer", role="Senior agent"))
    (engineering_escalation,) = request_test_escalation(
        incident,
        agent,
        tier_key="engineering",
        path="engineering",
        path_details={
            "environment": "iPhone",
            "repro_steps": "Open",
            "expected": "Works",
            "actual": "Fails",
        },
    )
    report = escalation_services.file_bug_report(
        escalation=engineering_escalation,
        actor=agent,
        title="Fuzz bug",
        severity="sev2",
        priority="high",
        description="Breaks",
        expected="Works",
        actual="Fails",
        steps="Open",
        frequency="always",
    )
    EscalationFiring.objects.create(
        key="fuzz", kind="rule", incident=incident, fired_at=timezone.now()
    )
    PageDelivery.objects.create(
        escalation=escalation,
        tier=escalation.to_tier,
        action="trigger",
        dedup_key=f"switchboard-escalation-{escalation.pk}",
    )
    return {
        "escalation": escalation,
        "tier": escalation.to_tier,
        "bug_report": report,
    }


def _later_world(incident, agent) -> dict:
    """Closure, post-mortems, plans, security, credits, mail and surveys."""
    from comms.models import InboundMail
    from comms.plans import plan_prefill
    from incidents.models import IncidentChecklistItem, RegulatoryRegime
    from incidents.surveys import survey_token
    from tests.factories import request_test_credit

    manager = UserFactory(username="fuzz-manager", role="Manager")
    resolved = IncidentFactory(status="resolved", actor=agent)
    incident_services.refresh_checklists(incident=resolved, actor=None)
    checklist_item = IncidentChecklistItem.objects.filter(
        checklist__incident=resolved
    ).first()
    postmortem = incident_services.start_postmortem(incident=incident, actor=manager)
    plan = incident_services.start_communication_plan(
        incident=incident, actor=manager, prefill=plan_prefill(incident)
    )
    section = plan.sections.first()
    response = incident_services.flag_security_incident(
        incident=incident, actor=manager, incident_type="data_breach"
    )
    phase = response.phases.first()
    (clock, *_) = incident_services.choose_regulatory_clocks(
        response=response, actor=manager, regimes=list(RegulatoryRegime.objects.all())
    )
    mail = InboundMail.objects.create(
        source="webhook",
        from_address="someone@example.com",
        subject="Hello",
        text="Which incident is this?",
        received_at=timezone.now(),
        status="unmatched",
    )
    credit = request_test_credit(incident, agent, customer=incident.customer)
    return {
        **_automation_world(incident, manager),
        "resolved": resolved,
        "checklist_item": checklist_item,
        "postmortem_row": postmortem.timeline_rows.first(),
        "plan_row": section.rows.first(),
        "section_pk": section,
        "phase_pk": phase,
        "security_item": phase.items.first(),
        "notification_pk": response.notifications.first(),
        "clock_pk": clock,
        "mail_pk": mail,
        "credit_pk": credit,
        "token": survey_token(
            incident_id=incident.pk, customer_id=incident.customer_id
        ),
    }


def _automation_world(incident, manager) -> dict:
    """Follow-up loops, monitoring signals and reviews."""
    from comms.services import loops, monitoring
    from escalations import services as escalation_services
    from tests.factories import monitoring_token

    now = timezone.now()
    assert loops.open_missing_loops(now)
    integration, token = monitoring_token(name="Fuzz monitoring")
    processed, _waiting = (
        monitoring.accept_signal(
            integration=integration,
            code="SIG-002",
            dedup_key=dedup_key,
            description="Drop.",
            customers=[incident.customer.account_id],
            category="network",
        )
        for dedup_key in ("fuzz", "fuzz-waiting")
    )
    monitoring.process_signal(receipt_id=processed.pk)
    today = timezone.localdate()
    review = escalation_services.record_review(
        actor=manager,
        kind="monthly",
        policy=None,
        period_start_on=today - dt.timedelta(days=30),
        period_end_on=today,
        findings="Slow replies.",
        actions=[{"what": "Reply faster", "owner": manager, "due_on": today}],
        today=today,
    )
    return {
        "signal_token": token,
        "receipt_pk": processed,
        "review": review,
        "review_action": review.actions.get(),
    }


# Forms no generated value can satisfy: signing in needs a real password.
UNFILLABLE = {"AuthenticationForm"}
# The message each message URL acts on, where the awaiting one would not do.
MESSAGE_FOR = {"comms:send_draft": "draft"}
# Escalations: what the pk of each escalation URL names.
PK_FOR = {
    "escalations:acknowledge": "escalation",
    "escalations:return": "escalation",
    "escalations:resolve": "escalation",
    "escalations:approve": "escalation",
    "escalations:reject": "escalation",
    "escalations:tier_queue": "tier",
    "escalations:tracker_key": "bug_report",
}
# What an argument names on one URL, where the argument's name is shared by
# different objects (an action item or a checklist item, a plan or a
# post-mortem row).
ARG_FOR = {
    **{
        (f"incidents:checklist_{action}", arg): key
        for action in ("tick", "not_applicable", "reopen")
        for arg, key in (("pk", "resolved"), ("item_pk", "checklist_item"))
    },
    ("incidents:security_tick", "item_pk"): "security_item",
    ("incidents:postmortem_row_edit", "row_pk"): "postmortem_row",
    ("incidents:postmortem_row_hide", "row_pk"): "postmortem_row",
    ("incidents:plan_row_edit", "row_pk"): "plan_row",
    ("escalations:review_detail", "pk"): "review",
    ("escalations:review_action_done", "pk"): "review_action",
    ("statuspage:publication", "pk"): "publication",
    ("statuspage:confirm", "token"): "confirm_token",
    ("statuspage:unsubscribe", "token"): "unsubscribe_token",
}
# The headers a machine-facing URL is authenticated by, from the world.
HEADERS_FOR = {
    "comms:inbound_mail_webhook": lambda world: {
        "HTTP_X_SWITCHBOARD_SECRET": "fuzz-secret"
    },
    "comms:signal_api": lambda world: {
        "HTTP_AUTHORIZATION": f"Bearer {world['signal_token']}"
    },
}


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    session = client.session
    session["time_zone"] = FAR_ZONE
    session.save()
    return client


def _reload(obj):
    return type(obj)._default_manager.get(pk=obj.pk)


class _Outcomes:
    """Collect every response that is a server error or reflects a script."""

    def __init__(self, caplog):
        self.failures = []
        self.caplog = caplog
        caplog.set_level(logging.ERROR, logger="django.request")

    def check(self, response, what):
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code} for {what}")
        elif SCRIPT in response.content:
            self.failures.append(f"unescaped script in the page for {what}")

    def assert_clean(self, requests: int):
        assert requests, "nothing was posted"
        assert self.failures == []
        logged = [r.getMessage() for r in self.caplog.records]
        assert not [m for m in logged if "Internal Server Error" in m], logged


# Sending -------------------------------------------------------------------------


def _input_names(bf) -> list[str]:
    inner = getattr(bf.field.widget, "widget", bf.field.widget)
    if isinstance(inner, forms.MultiWidget):
        return [bf.html_name + suffix for suffix in inner.widgets_names]
    return [bf.html_name]


def _refused_by_its_field(bound_forms, key, body) -> bool:
    """Tell whether the field reading ``key`` refuses the value on its own.

    Such a value never gets past the form, so the requests that send every
    input at once cover it; only values a field lets through are worth a
    request of their own.
    """
    data = QueryDict(body)
    for form in bound_forms:
        for bf in form:
            if key in _input_names(bf):
                field = bf.field
                value = field.widget.value_from_datadict(data, {}, bf.html_name)
                try:
                    field.clean(value)
                except ValidationError:
                    return True
                return False
    return False


def _chunks(keys, raw):
    """Group the inputs so that a request stays under Django's body limit."""
    size = max(1, 2_000_000 // (len(raw) + 64))
    keys = list(keys)
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def _fuzz(send, baseline, bound_forms, keys, kind, outcomes, alone=None):
    """Send each hostile value of ``kind`` in every input; return the count.

    Every key gets it in the chunked requests; each key of ``alone`` (all of
    them by default) also on its own.
    """
    requests = 0
    data = None

    def sent(body, what):
        nonlocal data, requests
        response = send(body)
        outcomes.check(response, what)
        requests += 1
        if response.status_code in (301, 302, 303):
            data = None  # something changed: start again from fresh values

    if not keys:
        sent(b"", "no inputs")
    for raw in VALUES[kind]:
        for chunk in _chunks(keys, raw):
            data = data or baseline()
            body = urlencode(
                {k: v for k, v in data.items() if k not in chunk}, doseq=True
            ).encode()
            body = b"&".join(
                [body, *(quote_plus(k).encode() + b"=" + raw for k in chunk)]
            ).lstrip(b"&")
            sent(body, f"{chunk} = {raw[:40]!r}")
        for key in keys if alone is None else alone:
            data = data or baseline()
            if quote_plus(str(data.get(key))).encode() == raw:
                continue  # what the valid request already sends
            body = _body(data, key, raw)
            if not _refused_by_its_field(bound_forms, key, body):
                sent(body, f"{key} = {raw[:40]!r}")
    return requests


# Portal pages ----------------------------------------------------------------


def _url_objects(name, world) -> dict:
    """Return the objects a URL's arguments name, by argument."""
    pattern = dict(_our_url_patterns())[name]
    objects = {}
    for arg in pattern.pattern.converters:
        if name.startswith("admin:"):
            # An admin's own view (a preview, a diff) shows one of its objects.
            model = next(
                a.model
                for _, _, a in _our_admins()
                if name.startswith(
                    f"admin:{a.model._meta.app_label}_{a.model._meta.model_name}_"
                )
            )
            objects[arg] = _admin_object(model)
        elif (name, arg) in ARG_FOR:
            objects[arg] = world[ARG_FOR[(name, arg)]]
        elif arg == "message_pk":
            objects[arg] = world[MESSAGE_FOR.get(name, arg)]
        elif name in PK_FOR:
            objects[arg] = world[PK_FOR[name]]
        else:
            objects[arg] = world[arg]
    return objects


def _fresh(value):
    if isinstance(value, models.Model):
        model = value.__class__  # a lazy request.user included
        if value.pk is None:
            return model()
        return model._default_manager.get(pk=value.pk)
    return value


@pytest.mark.django_db
@pytest.mark.parametrize("kind", VALUES)
@pytest.mark.parametrize("name", URL_NAMES)
def test_portal_form_never_answers_a_server_error(
    name, kind, world, admin_user, monkeypatch, caplog
):
    if name.startswith("admin:"):
        client = _client(admin_user)
    else:
        client = _client(UserFactory(username="fuzz-manager", role="Manager"))
    url_objects = _url_objects(name, world)
    url = reverse(
        name,
        kwargs={arg: getattr(obj, "pk", obj) for arg, obj in url_objects.items()},
    )
    if name in HEADERS_FOR:
        client.defaults.update(HEADERS_FOR[name](world))
    recorder = _Recorder(monkeypatch)
    outcomes = _Outcomes(caplog)

    method, probe = "POST", client.post(url, {})
    if probe.status_code == 405 or not (recorder.keys or recorder.forms):
        # A page that reads no form may read its query string instead.
        read = client.get(url, {"fuzz": "1"})
        if read.status_code != 405:
            method, probe = "GET", read
    assert probe.status_code not in (403, 404, 405), probe
    assert not probe.get("Location", "").startswith(("/login", "/admin/login"))
    outcomes.check(probe, "an empty request")
    keys = [k for k in recorder.keys if k != "fuzz"]
    recorded = [(f, kw) for f, _, kw in recorder.forms if f.is_bound]
    bound_forms = [f for f, _ in recorded]
    objects = list(reversed(url_objects.values()))

    def baseline():
        data = dict.fromkeys(keys, "")
        fresh_objects = [_fresh(obj) for obj in objects]
        for form, kwargs in recorded:
            kwargs = {
                k: _fresh(v) for k, v in kwargs.items() if k not in ("data", "files")
            }
            filled = _submitted(type(form)(**kwargs), world, fresh_objects)
            data.update(filled)
            # Every other input holds a valid value, so the hostile one is
            # the only thing a form or service can object to.
            if type(form).__name__ not in UNFILLABLE:
                bound = type(form)(filled, **kwargs)
                assert bound.is_valid(), (type(form).__name__, bound.errors)
        return data

    def send(body):
        if method == "POST":
            return client.generic(
                "POST", url, body, "application/x-www-form-urlencoded"
            )
        return client.generic("GET", url, QUERY_STRING=body.decode("latin-1"))

    recorder.stop()
    requests = _fuzz(send, baseline, bound_forms, list(baseline()), kind, outcomes)

    outcomes.assert_clean(requests)


# Admin forms -------------------------------------------------------------------


def _admin_object(model):
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the fuzz world has no {model._meta.label}"
    return obj


def _admin_baseline(client, url, world):
    """Return what the admin page submits unchanged, filled in validly."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    context = response.context
    data = _submitted(context["adminform"].form, world)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_submitted(formset.management_form, world))
        for form in formset.forms:
            filled = _submitted(form, world)
            if not form.instance.pk:
                # An extra row stays empty unless it is the one fuzzed.
                filled = {k: v for k, v in filled.items() if k in form.initial}
            data.update(filled)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("kind", VALUES)
@pytest.mark.parametrize(("label", "page"), ADMIN_PAGES)
def test_admin_form_never_answers_a_server_error(
    label, page, kind, world, admin_user, monkeypatch, caplog
):
    model_admin = next(a for lbl, p, a in _our_admins() if lbl == label)
    model = model_admin.model
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    client = _client(admin_user)
    outcomes = _Outcomes(caplog)
    if page == "changelist":
        url = reverse(f"{prefix}_changelist")
        keys, bound_forms, data = ["q"], [], {}
        method = "GET"
    else:
        if page == "add":
            url = reverse(f"{prefix}_add")
            allowed = model_admin.has_add_permission(_FakeRequest(admin_user))
        else:
            obj = _admin_object(model)
            url = reverse(f"{prefix}_change", args=[obj.pk])
            allowed = model_admin.has_change_permission(_FakeRequest(admin_user), obj)
        if not allowed:
            pytest.skip(f"{label} cannot be {page}ed in the admin")
        method = "POST"
        data = _admin_baseline(client, url, world)
        recorder = _Recorder(monkeypatch)
        outcomes.check(
            client.generic(
                "POST",
                url,
                urlencode(data, doseq=True),
                "application/x-www-form-urlencoded",
            ),
            "the unchanged form",
        )
        bound_forms = [f for f, _, _ in recorder.forms if f.is_bound]
        recorder.stop()
        keys = list(data)

    def send(body):
        if method == "POST":
            return client.generic(
                "POST", url, body, "application/x-www-form-urlencoded"
            )
        return client.generic("GET", url, QUERY_STRING=body.decode("latin-1"))

    requests = _fuzz(
        send, lambda: data, bound_forms, keys, kind, outcomes, _one_row_each(keys)
    )

    outcomes.assert_clean(requests)


_INLINE_KEY = re.compile(r"^(?P<prefix>.+)-(?P<row>\d+)-(?P<field>[^-]+)$")


def _one_row_each(keys: list[str]) -> list[str]:
    """The keys to fuzz one by one: an inline's rows share their fields, so
    its first row stands for the others (which the chunked requests reach)."""
    first_rows: dict[str, str] = {}
    alone = []
    for key in keys:
        match = _INLINE_KEY.match(key)
        if match is None:
            alone.append(key)
            continue
        row = first_rows.setdefault(match["prefix"], match["row"])
        if match["row"] == row:
            alone.append(key)
    return alone


class _FakeRequest:
    def __init__(self, user):
        self.user = user


# JSON doors --------------------------------------------------------------------


def _nested(depth: int) -> list:
    value = []
    for _ in range(depth):
        value = [value]
    return value


# What a JSON field may be sent instead of its own value: text no database
# stores, text past every limit, and every JSON type but its own.
JSON_VALUES = {
    "nul": "a\x00b",
    "surrogate": "\ud800",  # json.dumps sends it escaped, as a client would
    "long": "x" * 100_000,
    "number": 2147483648,
    "list": ["x"],
    "object": {"x": "y"},
    "null": None,
    "nested": _nested(100),
}
# A valid body for each door that reads JSON; every field in it is fuzzed.
JSON_BODIES = {
    "comms:signal_api": {
        "signal": "SIG-002",
        "title": "Data drops near tower 17",
        "description": "Data sessions drop near tower 17.",
        "dedup_key": "fuzz-json",
        "customers": [FUZZ_ACCOUNT],
        "category": "network",
    },
    "comms:inbound_mail_webhook": {
        "From": "jane@example.com",
        "FromName": "Jane",
        "To": "support@example.com",
        "Subject": "Re: fuzz",
        "TextBody": "It works.",
        "HtmlBody": "<p>It works.</p>",
        "MessageID": "<fuzz-json@example.com>",
        "Headers": [{"Name": "In-Reply-To", "Value": "<fuzz-0@example.com>"}],
    },
}
JSON_FIELDS = [(name, field) for name, body in JSON_BODIES.items() for field in body]


def _json_doors() -> list[str]:
    """Return the URL names whose view reads a JSON body."""
    return sorted(
        name for name, pattern in _our_url_patterns() if _reads_json(pattern.callback)
    )


def _reads_json(view) -> bool:
    # A feed is a callable object, with no code of its own to read.
    code = getattr(inspect.unwrap(view), "__code__", None)
    return code is not None and "read_json" in code.co_names


def _post_json(name, body, world):
    client = Client(raise_request_exception=False)
    return client.generic(
        "POST",
        reverse(name),
        json.dumps(body),
        "application/json",
        **HEADERS_FOR[name](world),
    )


def _names(fields: dict, field: str) -> bool:
    """Tell whether an error's field paths name ``field`` or a part of it."""
    return any(
        path == field or path.startswith((f"{field}[", f"{field}.")) for path in fields
    )


def _wrong_type(value, valid) -> bool:
    # Null may stand for an optional field left out; another type may not.
    return value is not None and type(value) is not type(valid)


def test_every_json_door_has_a_valid_body_to_fuzz():
    assert _json_doors() == sorted(JSON_BODIES)


@pytest.mark.django_db
@pytest.mark.parametrize("name", JSON_BODIES)
def test_json_door_accepts_its_valid_body(name, world):
    response = _post_json(name, JSON_BODIES[name], world)

    assert 200 <= response.status_code < 300, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("kind", JSON_VALUES)
@pytest.mark.parametrize(("name", "field"), JSON_FIELDS)
def test_json_door_answers_a_hostile_field_in_json_naming_it(name, field, kind, world):
    body = {**JSON_BODIES[name], field: JSON_VALUES[kind]}

    response = _post_json(name, body, world)

    status = response.status_code
    assert 200 <= status < 300 or 400 <= status < 500, (status, response.content)
    assert response["Content-Type"] == "application/json"
    if _wrong_type(JSON_VALUES[kind], JSON_BODIES[name][field]):
        assert status >= 400, response.json()  # never read as empty
    if status >= 400:
        assert _names(response.json().get("fields", {}), field), response.json()
