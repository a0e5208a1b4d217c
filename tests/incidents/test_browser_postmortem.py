"""In headless Chromium: open a post-mortem, fill it, and print it."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory, publishable_postmortem
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


def test_agent_opens_and_prints_the_post_mortem(live_server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    agent = UserFactory(username="browser-learner", role="Agent")
    postmortem = publishable_postmortem(agent, summary="Renewals failed at night.")
    incident = postmortem.incident
    sign_in(browser, live_server, "browser-learner")

    browser.get(live_server.url + incident.get_absolute_url())
    click(browser, browser.find_element(By.LINK_TEXT, "Post-mortem"))
    WebDriverWait(browser, 10).until(lambda d: "/postmortem/" in d.current_url)
    assert "Renewals failed at night." in browser.page_source
    rows = browser.find_elements(By.CSS_SELECTOR, ".postmortem-timeline tbody tr")
    assert "Issue first detected" in rows[0].text

    click(browser, browser.find_element(By.LINK_TEXT, "Edit"))
    # A click starts the navigation; the next page's fields come when it lands.
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.NAME, "what"))
    browser.find_element(By.NAME, "what").send_keys("Page the partner on-call")
    click(
        browser, browser.find_element(By.CSS_SELECTOR, "#postmortem-action-form button")
    )
    wait_for_text(browser, "Every action needs an owner.")

    browser.get(live_server.url + reverse("incidents:postmortem", args=[incident.pk]))
    click(browser, browser.find_element(By.LINK_TEXT, "Printable view"))
    WebDriverWait(browser, 10).until(lambda d: "/print/" in d.current_url)
    assert browser.find_elements(By.CSS_SELECTOR, "nav.navbar") == []
    assert "Post-mortem — " + incident.reference in browser.page_source
    # Printing opens the browser's dialog; record the call instead.
    browser.execute_script(
        "window.print = () => { document.body.dataset.printed = 'yes'; };"
    )
    browser.find_element(By.ID, "print-postmortem").click()
    assert (
        browser.find_element(By.TAG_NAME, "body").get_attribute("data-printed") == "yes"
    )
    # On paper the controls disappear and only the post-mortem remains.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    controls = browser.find_element(By.CSS_SELECTOR, ".print-controls")
    assert not controls.is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, ".postmortem-actions").is_displayed()
    assert_nothing_refused(browser)
