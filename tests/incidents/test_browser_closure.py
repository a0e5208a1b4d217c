"""Resolve, work the checklist and close, in headless Chromium."""

import pytest

from tests.factories import ChecklistTemplateItemFactory, IncidentFactory, UserFactory
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


def test_agent_resolves_works_the_checklist_and_closes(live_server, browser):  # noqa: F811
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def wait_for_alert(text):
        WebDriverWait(
            browser,
            10,
            ignored_exceptions=[
                StaleElementReferenceException,
                NoSuchElementException,
            ],
        ).until(
            lambda d: text in d.find_element(By.CSS_SELECTOR, ".alert-success").text
        )

    from incidents.models import ChecklistTemplate, Incident, PolicyTarget

    # A short checklist of our own, in place of the shipped ones, and no
    # monitoring window: inside one only a manager may close.
    ChecklistTemplate.objects.update(is_active=False)
    PolicyTarget.objects.update(monitoring_window_minutes=0)
    tick_me = ChecklistTemplateItemFactory(text="Status verified in ConnectX")
    skip_me = ChecklistTemplateItemFactory(
        template=tick_me.template, text="Billing adjusted"
    )
    UserFactory(username="browser-closer", role="Agent")
    incident = IncidentFactory(title="eSIM stuck", status="investigating")

    sign_in(browser, live_server, "browser-closer")
    browser.get(live_server.url + incident.get_absolute_url())
    browser.find_element(By.LINK_TEXT, "Closure").click()

    browser.find_element(By.NAME, "root_cause").send_keys("Queue stalled.")
    browser.find_element(By.NAME, "fix_summary").send_keys("Queue restarted.")
    browser.find_element(By.NAME, "customer_summary").send_keys("Your eSIM stalled.")
    click(browser, browser.find_element(By.CSS_SELECTOR, "input[value=system_check]"))
    click(browser, browser.find_element(By.NAME, "resolve"))
    wait_for_alert("resolved")
    assert (
        "Billing adjusted"
        in browser.find_element(By.CSS_SELECTOR, ".closure-blockers").text
    )

    # Ticking keeps the page: no reload (a marker set on this page survives),
    # the item and the close card change in place.
    browser.execute_script("window.stillHere = true;")
    row = browser.find_element(By.XPATH, f"//li[contains(., '{tick_me.text}')]")
    click(browser, row.find_element(By.XPATH, ".//button[text()='Tick']"))
    wait_for_alert("Item ticked")
    assert browser.execute_script("return window.stillHere === true;")
    blockers = browser.find_element(By.CSS_SELECTOR, ".closure-blockers").text
    assert tick_me.text not in blockers and "Billing adjusted" in blockers
    row = browser.find_element(By.XPATH, f"//li[contains(., '{tick_me.text}')]")
    assert "Done" in row.text
    # N/A is one control: the reason is its own field, and Enter sends it.
    row = browser.find_element(By.XPATH, f"//li[contains(., '{skip_me.text}')]")
    row.find_element(By.NAME, "reason").send_keys("Nothing was billed\n")
    # The page still shows "Item ticked" until the next one replaces it.
    wait_for_alert("not applicable")
    row = browser.find_element(By.XPATH, f"//li[contains(., '{skip_me.text}')]")
    assert "N/A" in row.text and "Nothing was billed" in row.text
    # Undo brings the item back, in place too; N/A again to close.
    click(browser, row.find_element(By.XPATH, ".//button[text()='Undo']"))
    wait_for_alert("open again")
    row = browser.find_element(By.XPATH, f"//li[contains(., '{skip_me.text}')]")
    assert "Open" in row.text
    assert (
        skip_me.text in browser.find_element(By.CSS_SELECTOR, ".closure-blockers").text
    )
    row.find_element(By.NAME, "reason").send_keys("Nothing was billed\n")
    wait_for_alert("not applicable")
    assert browser.execute_script("return window.stillHere === true;")
    click(browser, browser.find_element(By.NAME, "close"))
    WebDriverWait(browser, 10).until(lambda d: "/closure/" not in d.current_url)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    assert "closed" in browser.find_element(By.CSS_SELECTOR, ".alert-success").text
    assert_nothing_refused(browser)
