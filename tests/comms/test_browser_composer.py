"""The composer's template list in headless Chromium: due first, searchable."""

import pytest
from django.urls import reverse

from incidents.models import Priority
from tests.factories import IncidentFactory, UserFactory
from tests.test_browser import (  # noqa: F401
    assert_nothing_refused,
    browser,
    sign_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_typing_narrows_the_templates_and_enter_opens_the_first(
    live_server,
    browser,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    UserFactory(username="c-agent", role="Agent")
    incident = IncidentFactory(priority=Priority.P2)
    sign_in(browser, live_server, "c-agent")
    browser.get(live_server.url + reverse("comms:compose", args=[incident.pk]))

    assert browser.find_element(By.XPATH, "//*[text()='Due now']").is_displayed()
    choices = browser.find_elements(By.CSS_SELECTOR, "#template-list .template-choice")
    box = browser.find_element(By.ID, "template-search")
    box.send_keys("checking in")

    visible = [c for c in choices if c.is_displayed()]
    assert 0 < len(visible) < len(choices)
    assert all("checking in" in c.text.lower() for c in visible)
    assert "match" in browser.find_element(By.ID, "template-search-status").text

    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda b: "template=" in b.current_url)
    body = browser.find_element(By.NAME, "body").get_attribute("value")
    assert body.strip()
    assert_nothing_refused(browser)
