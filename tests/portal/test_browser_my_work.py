"""A manager's home page in headless Chromium: decide from "My work"."""

from decimal import Decimal

import pytest
from django.urls import reverse

from incidents.models import Priority
from tests.factories import (
    IncidentFactory,
    UserFactory,
    request_test_escalation,
    send_test_message,
)
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


def _decision_cards(driver):
    from selenium.webdriver.common.by import By

    section = driver.find_element(
        By.XPATH, "//section[h2[starts-with(normalize-space(), 'Decisions waiting')]]"
    )
    return section.find_elements(By.CSS_SELECTOR, "li.list-group-item")


def _card_for(cards, reference):
    (card,) = [c for c in cards if reference in c.text]
    return card


def test_a_manager_decides_an_escalation_from_my_work(
    live_server,
    browser,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    from escalations.models import Escalation

    agent = UserFactory(username="mw-agent", role="Agent")
    UserFactory(username="mw-manager", role="Manager")
    UserFactory(username="l2-member", role="Senior agent")
    (escalation,) = request_test_escalation(
        IncidentFactory(priority=Priority.P2),
        agent,
        tier_key="l2",
        path="l2",
        refund_amount=Decimal("150.00"),
    )
    held = IncidentFactory(priority=Priority.P1, owner=agent)
    message = send_test_message(held, agent)
    assert escalation.needs_approval
    assert message.status == "awaiting_approval"
    asked_for = escalation.incident.reference

    sign_in(browser, live_server, "mw-manager")
    browser.get(live_server.url + reverse("home"))
    cards = _decision_cards(browser)
    assert len(cards) == 2
    card = _card_for(cards, asked_for)
    _card_for(cards, held.reference)
    assert "Refund asked: 150.00" in card.text
    assert "Approval asked by the rule" in card.text

    decide = card.find_element(By.LINK_TEXT, "Decide")
    click(browser, decide)
    WebDriverWait(browser, 10).until(staleness_of(decide))
    anchor = f"escalation-{escalation.pk}"
    assert browser.current_url.endswith(reverse("escalations:approvals") + "#" + anchor)
    queued = browser.find_element(By.ID, anchor)
    assert asked_for in queued.text

    approve = queued.find_element(By.XPATH, ".//button[text()='Approve']")
    click(browser, approve)
    WebDriverWait(browser, 10).until(staleness_of(approve))
    wait_for_text(browser, "Approved: the tier sees it now.")
    assert (
        "Approved: the tier sees it now."
        in browser.find_element(By.CSS_SELECTOR, ".alert-success").text
    )
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.APPROVED

    browser.get(live_server.url + reverse("home"))
    cards = _decision_cards(browser)
    assert [held.reference in c.text for c in cards] == [True]
    assert not [c for c in cards if asked_for in c.text]
    assert_nothing_refused(browser)
