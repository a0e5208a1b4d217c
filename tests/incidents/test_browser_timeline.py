"""The incident page's timeline in headless Chromium: folded rows and views."""

import pytest

from incidents.models import Priority
from tests.factories import IncidentFactory, UserFactory, send_test_message
from tests.test_browser import (  # noqa: F401
    assert_nothing_refused,
    browser,
    click,
    sign_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROW_KINDS = "ol.timeline > li.timeline-entry > div > strong"


def _row_kinds(driver) -> list[str]:
    """Return what each top-level timeline row records, folded rows left out."""
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ROW_KINDS)]


def _view_link(driver, label):
    from selenium.webdriver.common.by import By

    views = driver.find_element(
        By.CSS_SELECTOR, "nav[aria-label='Show in the timeline']"
    )
    return views.find_element(By.LINK_TEXT, label)


def test_the_timeline_folds_bookkeeping_and_filters_by_kind(
    live_server,
    browser,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    from comms import services as comms_services

    agent = UserFactory(username="tl-agent", role="Agent")
    incident = IncidentFactory(priority=Priority.P3)
    comms_services.due_work(incident.created_at)  # opens follow-up loops
    send_test_message(incident, agent, subject="Hello there")

    sign_in(browser, live_server, "tl-agent")
    browser.get(live_server.url + incident.get_absolute_url())

    kinds = _row_kinds(browser)
    assert "Incident opened" in kinds
    assert "Follow-up loop changed" not in kinds
    opened = browser.find_element(
        By.XPATH,
        "//ol[contains(@class, 'timeline')]/li"
        "[div/strong[normalize-space()='Incident opened']]",
    )
    folded = opened.find_element(By.CSS_SELECTOR, "details.timeline-folded")
    summary = folded.find_element(By.TAG_NAME, "summary")
    assert summary.text == "What this changed besides (2)"
    inside = folded.find_element(By.TAG_NAME, "ul")
    assert not inside.is_displayed()
    assert "customer follow-ups started" not in opened.text

    click(browser, summary)
    WebDriverWait(browser, 5).until(lambda d: inside.is_displayed())
    assert folded.get_attribute("open") is not None
    assert "customer follow-ups started" in inside.text

    messages = _view_link(browser, "Messages")
    click(browser, messages)
    WebDriverWait(browser, 10).until(staleness_of(messages))
    assert browser.current_url.endswith("?show=messages")
    kinds = _row_kinds(browser)
    assert "Incident opened" not in kinds
    timeline = browser.find_element(By.CSS_SELECTOR, "ol.timeline")
    assert "Hello there" in timeline.text
    assert (
        browser.find_element(
            By.CSS_SELECTOR, "nav[aria-label='Show in the timeline'] [aria-current]"
        ).text
        == "Messages"
    )

    everything = _view_link(browser, "With bookkeeping")
    click(browser, everything)
    WebDriverWait(browser, 10).until(staleness_of(everything))
    assert browser.current_url.endswith("?show=all")
    kinds = _row_kinds(browser)
    assert kinds.count("Follow-up loop changed") == 2
    assert "Incident opened" in kinds
    # Nothing is left to fold (no implicit wait for what should be absent).
    assert (
        browser.execute_script(
            "return document.querySelectorAll('details.timeline-folded').length;"
        )
        == 0
    )
    assert_nothing_refused(browser)
