"""An escalation end to end in headless Chromium: request, approve, acknowledge."""

import pytest
from django.urls import reverse

from comms.models import Message
from escalations.models import BugReport, Escalation, EscalationRule, Tier
from incidents.models import Priority
from tests.factories import CustomerFactory, IncidentFactory, UserFactory
from tests.test_browser import (  # noqa: F401
    assert_nothing_refused,
    browser,
    click,
    sign_in,
    wait_for_text,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_engineering_escalation_with_bug_report_is_approved_and_acknowledged(
    live_server,
    browser,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import Select, WebDriverWait

    UserFactory(username="b-agent", role="Agent")
    UserFactory(username="b-manager", role="Manager")
    engineer = UserFactory(username="b-engineer", role="Senior agent")
    incident = IncidentFactory(
        priority=Priority.P1, customer=CustomerFactory(name="Pia Browser")
    )
    tier = Tier.objects.get(policy=incident.policy, key="engineering")
    tier.members.add(engineer)
    # An admin may ask for a manager on bug escalations; here one does.
    EscalationRule.objects.filter(policy=incident.policy, key="bug-identified").update(
        needs_approval=True
    )

    sign_in(browser, live_server, "b-agent")
    browser.get(live_server.url + reverse("escalations:escalate", args=[incident.pk]))
    browser.find_element(By.CSS_SELECTOR, "input[value=bug_identified]").click()
    check_rules = browser.find_element(By.CSS_SELECTOR, "button[value=check_rules]")
    click(browser, check_rules)
    # The rule's name may show before the page answers: wait for the new page.
    WebDriverWait(browser, 10).until(staleness_of(check_rules))
    wait_for_text(browser, "A system error or bug is identified")
    assert browser.find_element(
        By.CSS_SELECTOR, f"input[name=tiers][value='{tier.pk}']"
    ).is_selected()
    Select(browser.find_element(By.NAME, "path")).select_by_value("engineering")
    fields = {
        "summary": "eSIM install hangs for the customer.",
        "customer_wants": "A working eSIM.",
        "tried": "Reinstalled → same hang",
        "why": "Looks like a provisioning bug.",
        "recommended_resolution": "Fix the provisioning call.",
        "engineering__environment": "iPhone 15, iOS 18, app 4.2",
        "engineering__repro_steps": "Buy plan, install eSIM",
        "engineering__expected": "Install completes",
        "engineering__actual": "Spinner forever",
        "bug_title": "eSIM install hangs",
        "bug_description": "Install never completes.",
        "bug_expected": "Completes",
        "bug_actual": "Hangs",
        "bug_steps": "1. Buy 2. Install",
    }
    for name, value in fields.items():
        browser.find_element(By.NAME, name).send_keys(value)
    for name, value in {
        "bug_severity": "sev1",
        "bug_priority": "critical",
        "bug_frequency": "always",
    }.items():
        Select(browser.find_element(By.NAME, name)).select_by_value(value)
    click(browser, browser.find_element(By.NAME, "file_bug_report"))
    for box in browser.find_elements(By.CSS_SELECTOR, "input[name^=check_]"):
        click(browser, box)
    click(browser, browser.find_element(By.CSS_SELECTOR, "button[value=escalate]"))
    wait_for_text(browser, "waits for a manager")
    assert_nothing_refused(browser)

    sign_in(browser, live_server, "b-manager")
    browser.get(live_server.url + reverse("escalations:approvals"))
    click(browser, browser.find_element(By.XPATH, "//button[text()='Approve']"))
    wait_for_text(browser, "Approved")

    sign_in(browser, live_server, "b-engineer")
    browser.get(live_server.url + reverse("escalations:tier_queue", args=[tier.pk]))
    click(browser, browser.find_element(By.XPATH, "//button[text()='Acknowledge']"))
    wait_for_text(browser, "Acknowledged")

    escalation = Escalation.objects.get(incident=incident)
    assert escalation.status == Escalation.Status.ACKNOWLEDGED
    assert BugReport.objects.get(escalation=escalation).title == "eSIM install hangs"
    customer_message = Message.objects.get(incident=incident, audience="customer")
    assert customer_message.status == Message.Status.AWAITING_APPROVAL
    assert customer_message.situation == "to_engineering"
