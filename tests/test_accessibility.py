"""The main pages pass axe-core in Chromium and work from the keyboard.

axe-core (MPL-2.0) is vendored under tests/vendor/axe-core and injected into
each page by the test; the portal itself never loads it.
"""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from incidents.models import Priority
from tests.factories import (
    IncidentFactory,
    UserFactory,
    request_test_credit,
    request_test_escalation,
    send_test_message,
)
from tests.test_browser import browser, sign_in  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"]}})
  .then(result => done(JSON.stringify(
    {passes: result.passes.length, violations: result.violations})))
  .catch(error => done(JSON.stringify({passes: 0, violations: [{id: "axe-error",
    impact: "critical", help: String(error), nodes: []}]})));
"""


def _serious(browser) -> list[str]:  # noqa: F811
    browser.execute_script(AXE.read_text())
    result = json.loads(browser.execute_async_script(RUN_AXE))
    assert result["passes"] > 10, "axe-core checked next to nothing"
    violations = result["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def test_the_main_pages_have_no_serious_accessibility_violations(
    live_server,
    browser,  # noqa: F811
):
    agent = UserFactory(username="a11y-agent", role="Agent")
    UserFactory(username="a11y-manager", role="Manager")
    UserFactory(username="a11y-senior", role="Senior agent")
    incident = IncidentFactory(priority=Priority.P1, owner=agent)
    send_test_message(incident, agent)
    request_test_credit(IncidentFactory(), agent, amount="80.00")
    (escalation,) = request_test_escalation(
        IncidentFactory(priority=Priority.P2), agent
    )
    browser.set_script_timeout(30)
    sign_in(browser, live_server, "a11y-manager")

    pages = [
        reverse("home"),
        reverse("incidents:list") + "?status=open",
        reverse("incidents:detail", args=[incident.pk]),
        reverse("comms:incident_messages", args=[incident.pk]),
        reverse("comms:compose", args=[incident.pk]),
        reverse("incidents:closure", args=[incident.pk]),
        reverse("escalations:tiers"),
        reverse("escalations:tier_queue", args=[escalation.to_tier_id]),
        reverse("escalations:incident_escalations", args=[escalation.incident_id]),
        reverse("escalations:escalate", args=[incident.pk]),
        reverse("escalations:approvals"),
        reverse("escalations:credit_queue"),
        reverse("comms:approvals"),
        reverse("escalations:metrics"),
    ]
    found = {}
    for url in pages:
        browser.get(live_server.url + url)
        problems = _serious(browser)
        if problems:
            found[url] = problems
    assert found == {}


def test_the_keyboard_reaches_the_page_first_and_the_navigation(
    live_server,
    browser,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    UserFactory(username="kb-agent", role="Agent")
    incident = IncidentFactory()
    sign_in(browser, live_server, "kb-agent")
    browser.get(live_server.url + incident.get_absolute_url())

    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.text == "Skip to the page"
    skip.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    # The next Tab lands inside the page, not back in the navigation.
    browser.switch_to.active_element.send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.find_elements(By.XPATH, "ancestor::main")
