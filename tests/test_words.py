"""Wording and layout fixed once, kept from coming back."""

import subprocess
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import models
from django.urls import resolve, reverse

from comms.catalogue import sample_context
from comms.library import LIBRARY
from comms.rendering import render
from incidents.models import Policy, Priority
from tests.comms.test_message_wording import _render
from tests.factories import CustomerFactory, IncidentFactory, start_test_plan

REPO = Path(__file__).resolve().parents[1]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
VOID |= {"source", "track", "wbr"}


# --- A small element tree from the standard library's HTML parser ----------


class _Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children = []
        self.text = ""

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()


class _Tree(HTMLParser):
    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", [], None)
        self.stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, attrs, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        node = _Node(tag, attrs, self.stack[-1])
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].text += data


def _elements(html, tag):
    return [n for n in _Tree(html).root.walk() if n.tag == tag]


def _words(text):
    return " ".join(text.split())


# --- a. The apology names the problem, not the incident's reference ----------


def test_no_shipped_customer_template_says_we_know_a_reference():
    context = sample_context()
    reference = context["incident"]["reference"]
    customer_templates = [e for e in LIBRARY if e["audience"] == "customer"]
    assert customer_templates

    for entry in customer_templates:
        rendered = render(entry["subject"], entry["body"], context)
        body = _words(rendered.body)
        assert "We know INC-" not in body, entry["key"]
        assert f"We know {reference}" not in body, entry["key"]
        assert "We know {{ incident.reference" not in entry["body"], entry["key"]


@pytest.mark.django_db
def test_the_apology_says_this_problem_cost_the_customer_time():
    apologising = [e["key"] for e in LIBRARY if "cost you time" in _words(e["body"])]
    assert apologising, "the library no longer apologises for the lost time"
    incident = IncidentFactory(priority=Priority.P2)
    credit = {"kind": "a service credit", "amount": "40.00 USD", "extension_days": ""}

    for key in apologising:
        body = _words(_render(key, incident, credit=credit).body)

        assert "We know this problem cost you time" in body, key
        assert f"We know {incident.reference}" not in body, key
        assert "We know INC-" not in body, key


# --- b. The bug report's long fields are one a row, full width -------------


@pytest.mark.django_db
def test_the_bug_reports_text_areas_each_take_a_full_width_row(agent_client):
    from escalations.forms.routing import BUG_FIELDS
    from escalations.models import BugReport

    fleet = Policy.objects.get(name="Fleet SaaS")
    incident = IncidentFactory(customer=CustomerFactory(policy=fleet))
    long_fields = {
        f"bug_{name}"
        for name in BUG_FIELDS
        if isinstance(BugReport._meta.get_field(name), models.TextField)
    }
    assert {"bug_description", "bug_steps"} <= long_fields

    response = agent_client.get(reverse("escalations:escalate", args=[incident.pk]))

    assert response.status_code == 200
    areas = {
        n.attrs["name"]: n
        for n in _elements(response.content.decode(), "textarea")
        if n.attrs.get("name", "").startswith("bug_")
    }
    assert set(areas) == long_fields
    for name, area in areas.items():
        column = next(a for a in area.ancestors() if a.tag == "div" and _grid(a))
        assert _grid(column) == {"col-12"}, name
        assert "row" in column.parent.classes, name
        controls = [
            n for n in column.walk() if n.tag in {"textarea", "input", "select"}
        ]
        assert controls == [area], f"{name} shares its column"


def _grid(node) -> set[str]:
    return {c for c in node.classes if c == "col" or c.startswith("col-")}


# --- c. The communication plan's Item and Details show long text whole -----


def _plan_page(agent_client, agent):
    from incidents.models import CommunicationPlanRow

    incident = IncidentFactory(priority=Priority.P1, owner=agent)
    plan = start_test_plan(incident, agent)
    long_item = "Named accounts to call first: " + "Fleet Corp, " * 14
    long_details = "Call each account manager, then log the call. " * 10
    row = CommunicationPlanRow.objects.filter(section__plan=plan).first()
    CommunicationPlanRow.objects.filter(pk=row.pk).update(
        item=long_item[:200], details=long_details[:500]
    )
    response = agent_client.get(reverse("incidents:plan", args=[incident.pk]))
    assert response.status_code == 200
    return response.content.decode(), row, long_item[:200], long_details[:500]


def _fields(page, name, view):
    """Return the controls named ``name`` in the page's forms posting to ``view``."""
    found = []
    for node in _Tree(page).root.walk():
        if node.attrs.get("name") == name and node.tag in {"input", "textarea"}:
            form = next(a for a in node.ancestors() if a.tag == "form")
            if resolve(form.attrs["action"]).url_name == view:
                found.append(node)
    return found


@pytest.mark.django_db
def test_the_plans_rows_edit_item_and_details_in_text_areas(agent_client, agent):
    page, _, long_item, long_details = _plan_page(agent_client, agent)

    for name, long_text in (("item", long_item), ("details", long_details)):
        rows = _fields(page, name, "plan_row_edit")
        assert len(rows) > 1
        assert {n.tag for n in rows} == {"textarea"}, name
        assert [n.text for n in rows].count(long_text) == 1, name


@pytest.mark.django_db
def test_adding_a_plan_row_writes_its_details_in_a_text_area(agent_client, agent):
    page, *_ = _plan_page(agent_client, agent)

    adding = _fields(page, "details", "plan_row_add")
    assert adding
    assert {n.tag for n in adding} == {"textarea"}


@pytest.mark.django_db
def test_adding_a_plan_row_writes_its_item_in_a_text_area(agent_client, agent):
    page, *_ = _plan_page(agent_client, agent)

    adding = _fields(page, "item", "plan_row_add")
    assert adding
    assert {n.tag for n in adding} == {"textarea"}


# --- d. `make run` tells how to reach the port it serves on -----------------


def _dry_run(*args) -> list[str]:
    """Return make's dry-run commands, continued lines joined."""
    done = subprocess.run(
        ["make", "-n", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.replace("\\\n", " ").splitlines()


def test_make_run_passes_its_port_to_the_demo_and_the_server():
    commands = _dry_run("run", "PORT=8123")

    (demo,) = [c for c in commands if "load_demo_data" in c]
    (serve,) = [c for c in commands if "serve_portal" in c]
    for command in (demo, serve):
        assert "PORTAL_BASE_URL=" in command
        url = command.split("PORTAL_BASE_URL=", 1)[1].split()[0]
        assert ":8123" in url, command
        assert ":8000" not in command
    assert "--port 8123" in serve


@pytest.mark.django_db
def test_the_demo_prints_a_signal_example_for_the_portals_address(settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8123"
    out = StringIO()

    call_command("load_demo_data", stdout=out)

    (example,) = [line for line in out.getvalue().splitlines() if "curl" in line]
    assert example.rstrip().endswith(" http://127.0.0.1:8123/api/signals/")
