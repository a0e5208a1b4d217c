"""Keyboard-only use of the closure checklist, in headless Chromium."""

import pytest
from django.urls import reverse

from tests.factories import ChecklistTemplateItemFactory, IncidentFactory, UserFactory
from tests.test_browser import (  # noqa: F401
    assert_nothing_refused,
    browser,
    sign_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _press(driver, *keys):
    """Press keys on whatever has the focus, as a person at the keyboard does."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def _tab_until(driver, script, limit=60):
    """Press Tab until ``script`` (run with the focused element) answers true."""
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        _press(driver, Keys.TAB)
        if driver.execute_script(script, driver.switch_to.active_element):
            return driver.switch_to.active_element
    raise AssertionError(f"{limit} presses of Tab never reached it")


def _badge(driver, element_id) -> str:
    """Return the state badge an item's row shows: Open, Done or N/A."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        row = driver.find_element(By.ID, element_id)
        return row.find_element(By.CSS_SELECTOR, ".badge").text
    except StaleElementReferenceException:  # swapped in between the two reads
        return ""


def _focus_inside(driver, element_id) -> bool:
    return driver.execute_script(
        "const row = document.getElementById(arguments[0]);"
        "return row !== null && row.contains(document.activeElement);",
        element_id,
    )


def test_the_closure_checklist_is_worked_with_the_keyboard_alone(
    live_server,
    browser,  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from incidents import services
    from incidents.models import ChecklistTemplate, IncidentChecklistItem

    ChecklistTemplate.objects.update(is_active=False)
    tick_me = ChecklistTemplateItemFactory(text="Status verified in ConnectX")
    skip_me = ChecklistTemplateItemFactory(
        template=tick_me.template, text="Billing adjusted"
    )
    agent = UserFactory(username="kb-closer", role="Agent")
    incident = services.resolve_incident(
        incident=IncidentFactory(title="eSIM stuck", status="investigating"),
        actor=agent,
        root_cause="Queue stalled.",
        fix_summary="Queue restarted.",
        customer_summary="Your eSIM stalled.",
        verification=["system_check"],
    )
    first = IncidentChecklistItem.objects.get(
        checklist__incident=incident, template_item=tick_me
    )
    second = IncidentChecklistItem.objects.get(
        checklist__incident=incident, template_item=skip_me
    )
    first_row, second_row = f"item-{first.pk}", f"item-{second.pk}"

    sign_in(browser, live_server, "kb-closer")
    browser.get(live_server.url + reverse("incidents:closure", args=[incident.pk]))
    browser.execute_script("window.stillHere = true;")
    assert _badge(browser, first_row) == _badge(browser, second_row) == "Open"

    # From the top of the page: skip the navigation, then Tab to "Tick".
    _press(browser, Keys.TAB)
    assert browser.switch_to.active_element.text == "Skip to the page"
    _press(browser, Keys.ENTER)
    _tab_until(
        browser,
        f"return arguments[0].closest('#{first_row}') !== null"
        " && arguments[0].textContent.trim() === 'Tick';",
    )
    _press(browser, Keys.ENTER)

    WebDriverWait(browser, 10).until(lambda d: _badge(d, first_row) == "Done")
    assert browser.execute_script("return window.stillHere === true;")
    assert _focus_inside(browser, first_row)
    assert "Item ticked" in browser.find_element(By.CSS_SELECTOR, ".alert-success").text

    # On to the second item's N/A reason; Enter sends it.
    reason = _tab_until(
        browser,
        "return arguments[0].name === 'reason'"
        f" && arguments[0].closest('#{second_row}') !== null;",
        limit=5,
    )
    assert reason.get_attribute("name") == "reason"
    _press(browser, "Nothing was billed", Keys.ENTER)

    WebDriverWait(browser, 10).until(lambda d: _badge(d, second_row) == "N/A")
    assert "Nothing was billed" in browser.find_element(By.ID, second_row).text
    assert browser.execute_script("return window.stillHere === true;")
    assert _focus_inside(browser, second_row)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("done", "not_applicable")
    assert_nothing_refused(browser)
