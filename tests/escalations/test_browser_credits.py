"""End to end in headless Chromium: an agent asks for $250, a manager approves."""

import pytest

from tests.factories import IncidentFactory, UserFactory
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


def test_agent_requests_250_and_a_manager_approves_it_from_the_queue(
    live_server,
    browser,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from comms.models import Message
    from escalations.models import CreditRequest

    UserFactory(username="browser-credit-agent", role="Agent")
    UserFactory(username="browser-credit-manager", role="Manager")
    incident = IncidentFactory(title="Charged twice for November")

    sign_in(browser, live_server, "browser-credit-agent")
    browser.get(live_server.url + incident.get_absolute_url())
    tabs = browser.find_element(By.CSS_SELECTOR, "ul.nav-tabs")
    tabs.find_element(By.LINK_TEXT, "Credits").click()
    Select(browser.find_element(By.NAME, "kind")).select_by_value("refund")
    browser.find_element(By.NAME, "amount").send_keys("250")
    browser.find_element(By.NAME, "reason").send_keys("Billed twice for November.")
    click(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    alert = browser.find_element(By.CSS_SELECTOR, ".alert-success")
    assert "Credit requested" in alert.text
    assert "250.00 USD" in browser.find_element(By.CSS_SELECTOR, ".credit-card").text
    assert_nothing_refused(browser)

    sign_in(browser, live_server, "browser-credit-manager")
    badge = browser.find_element(By.CSS_SELECTOR, "#mainnav").find_element(
        By.PARTIAL_LINK_TEXT, "Credits"
    )
    assert "1" in badge.text
    badge.click()
    row = browser.find_element(By.CSS_SELECTOR, "table.credit-queue tbody tr")
    assert "250.00 USD" in row.text
    assert incident.reference in row.text
    row.find_element(By.NAME, "reason").send_keys("Duplicate charge confirmed.")
    click(browser, row.find_element(By.CSS_SELECTOR, "button.btn-success"))
    WebDriverWait(browser, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".alert-success")
    )
    assert (
        "Approved 250.00 USD"
        in browser.find_element(By.CSS_SELECTOR, ".alert-success").text
    )
    assert "Nothing is waiting" in browser.page_source
    assert_nothing_refused(browser)

    credit = CreditRequest.objects.get()
    assert credit.status == CreditRequest.Status.APPROVED
    assert credit.decision_reason == "Duplicate charge confirmed."
    assert Message.objects.filter(incident=incident, stage="post_incident").count() == 1
