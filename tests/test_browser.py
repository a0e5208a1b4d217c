"""End to end in headless Chromium against the live server."""

import os

import pytest
from django.urls import reverse

from tests.conftest import chromium_available
from tests.factories import CustomerFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
]


@pytest.fixture
def browser():
    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail("Chromium and chromedriver must be installed in CI.")
        pytest.skip("Chromium or chromedriver is not installed here.")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    # The console shows what the Content-Security-Policy refused.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def assert_nothing_refused(browser):
    """Fail if the page's policy refused a script, a style or anything else."""
    refused = [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    assert refused == []


def test_agent_opens_an_incident_and_finds_it_in_the_list(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    UserFactory(username="browser-agent", role="Agent")
    customer = CustomerFactory(name="Greta Browser", account_id="ACC-BROWSER")

    browser.get(live_server.url + reverse("incidents:list"))
    browser.find_element(By.NAME, "username").send_keys("browser-agent")
    browser.find_element(By.NAME, "password").send_keys("pw-for-tests")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    browser.find_element(By.LINK_TEXT, "Open an incident").click()

    browser.find_element(By.NAME, "title").send_keys("Activation fails after eSIM")
    Select(browser.find_element(By.NAME, "priority")).select_by_value("P2")
    Select(browser.find_element(By.NAME, "category")).select_by_visible_text("eSIM")
    browser.find_element(By.NAME, "customer").send_keys(customer.account_id)
    browser.find_element(By.NAME, "what_happened").send_keys(
        "The eSIM installed but activation times out."
    )
    save = browser.find_element(By.NAME, "save")
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", save
    )
    save.click()
    WebDriverWait(browser, 10).until(lambda d: "/new/" not in d.current_url)

    alert = browser.find_element(By.CSS_SELECTOR, ".alert-success")
    assert "opened" in alert.text
    reference = alert.text.split()[0]
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(reference)

    # The full list sits under "More" in the navigation.
    browser.find_element(By.LINK_TEXT, "More").click()
    browser.find_element(By.LINK_TEXT, "All incidents").click()
    browser.find_element(By.NAME, "q").send_keys("Activation fails")
    browser.find_element(By.CSS_SELECTOR, "form[role=search] button").click()
    WebDriverWait(browser, 10).until(lambda d: "q=Activation" in d.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == 1
    assert reference in rows[0].text
    assert "Greta Browser" in rows[0].text
    assert_nothing_refused(browser)


def test_agent_composes_previews_and_sends_a_customer_message(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from comms.models import Message
    from tests.factories import IncidentFactory

    agent = UserFactory(username="browser-composer", role="Agent")
    incident = IncidentFactory(title="Port-in stuck", owner=agent)

    browser.get(live_server.url + reverse("login"))
    browser.find_element(By.NAME, "username").send_keys("browser-composer")
    browser.find_element(By.NAME, "password").send_keys("pw-for-tests")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/login/" not in d.current_url)
    browser.get(live_server.url + incident.get_absolute_url())
    browser.find_element(By.LINK_TEXT, "Compose").click()

    # The suggestions list offers the customer's first message, rendered.
    pick = browser.find_element(By.PARTIAL_LINK_TEXT, "Customer: we are on it")
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", pick
    )
    pick.click()
    WebDriverWait(browser, 10).until(lambda d: "template=" in d.current_url)
    body = browser.find_element(By.NAME, "body")
    assert incident.customer.name.split()[0] in body.get_attribute("value")
    assert incident.reference in browser.find_element(By.NAME, "subject").get_attribute(
        "value"
    )
    body.send_keys("\nP.S. We will call you tomorrow.")
    send = browser.find_element(By.CSS_SELECTOR, "button[value=Send]")
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", send
    )
    send.click()

    assert (
        "Queued for delivery."
        in browser.find_element(By.CSS_SELECTOR, ".alert-success").text
    )
    message = Message.objects.get()
    assert message.recipients == [incident.customer.email]
    assert "We will call you tomorrow." in message.body
    assert_nothing_refused(browser)


LAYOUT_SIZES = [(1366, 768), (1920, 1080)]


def sign_in(browser, live_server, username):
    """Sign in and wait until the portal has answered, so the next page is signed in."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.delete_all_cookies()
    browser.get(live_server.url + reverse("login"))
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys("pw-for-tests")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/login/" not in d.current_url)


def click(browser, element):
    """Scroll the element into view at once, then click it like a person would.

    Bootstrap scrolls smoothly, so without the instant scroll a click can land
    mid-scroll.
    """
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    element.click()


def wait_for_text(browser, text, timeout=10):
    """Wait until the page shows the text.

    A click starts a navigation; it does not wait for the next page.
    """
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(lambda d: text in d.page_source)


def _overflowing(browser) -> list[str]:
    """Return what sticks out of the page sideways (none: it fits)."""
    return browser.execute_script(
        """
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth <= width) return [];
        return [...document.querySelectorAll('body *')]
          .filter(e => e.getBoundingClientRect().right > width + 1)
          .slice(0, 5)
          .map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '')
            .trim().slice(0, 40));
        """
    )


def test_no_page_overflows_sideways_at_common_screen_sizes(live_server, browser):
    from comms import services as comms_services
    from comms.models import MessageTemplate
    from incidents import services as incident_services
    from incidents.models import Policy
    from tests.factories import IncidentFactory, send_test_message

    agent = UserFactory(username="layout-agent", role="Agent")
    UserFactory(username="layout-manager", role="Manager")
    admin = UserFactory(
        username="layout-admin", role="Admin", is_staff=True, is_superuser=True
    )
    incident = IncidentFactory(
        title="A long title " * 6, owner=agent, customer_summary="Summary " * 40
    )
    systemic = IncidentFactory(customer=None, is_systemic=True, priority="P1")
    for _ in range(3):
        incident_services.add_affected_customer(
            incident=systemic, actor=agent, customer=CustomerFactory()
        )
    send_test_message(systemic, agent, body="Words " * 200)
    template = MessageTemplate.objects.get(key="customer-initial")
    comms_services.revise_template(
        template=template,
        subject=template.current_version.subject,
        body=template.current_version.body + "\nOne more line " * 20,
        actor=admin,
    )
    version = template.current_version
    pages = {
        "layout-agent": [
            reverse("home"),
            reverse("incidents:list"),
            incident.get_absolute_url(),
            reverse("incidents:create"),
            reverse("incidents:edit", args=[incident.pk]),
            reverse("comms:incident_messages", args=[incident.pk]),
            reverse("comms:compose", args=[incident.pk]),
            reverse("comms:compose", args=[systemic.pk]),
            reverse("profile"),
        ],
        "layout-manager": [reverse("comms:approvals")],
        "layout-admin": [
            reverse("admin:index"),
            reverse("admin:comms_messagetemplate_change", args=[template.pk]),
            reverse("admin:comms_messagetemplate_diff", args=[template.pk])
            + f"?a={version.number - 1}&b={version.number}",
            reverse(
                "admin:incidents_policy_change",
                args=[Policy.objects.get(is_default=True).pk],
            ),
            reverse("admin:incidents_customer_changelist"),
            reverse("admin:comms_message_changelist"),
        ],
    }

    problems = []
    for username, paths in pages.items():
        browser.delete_all_cookies()
        sign_in(browser, live_server, username)
        for width, height in LAYOUT_SIZES:
            browser.set_window_size(width, height)
            for path in paths:
                browser.get(live_server.url + path)
                sticking_out = _overflowing(browser)
                if sticking_out:
                    problems.append(f"{path} at {width}x{height}: {sticking_out}")

    assert problems == []


def test_ticking_severity_criteria_suggests_the_priority(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    UserFactory(username="browser-triage", role="Agent")
    sign_in(browser, live_server, "browser-triage")
    browser.get(live_server.url + reverse("incidents:create"))
    note = browser.find_element(By.ID, "priority-suggestion")
    assert not note.is_displayed()

    Select(browser.find_element(By.NAME, "priority")).select_by_value("P3")
    box = browser.find_element(
        By.CSS_SELECTOR, 'input[name="severity_criteria"][data-priority="P1"]'
    )
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", box
    )
    box.click()

    WebDriverWait(browser, 5).until(lambda d: note.is_displayed())
    assert "Suggested priority: P1 · Critical" in note.text
    assert "say why below" in note.text
    assert_nothing_refused(browser)
