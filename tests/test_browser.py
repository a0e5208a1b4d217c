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
    browser.find_element(By.PARTIAL_LINK_TEXT, "Customer:").click()
    WebDriverWait(browser, 10).until(lambda d: "template=" in d.current_url)
    body = browser.find_element(By.NAME, "body")
    assert incident.customer.name.split()[0] in body.get_attribute("value")
    assert incident.reference in browser.find_element(By.NAME, "subject").get_attribute(
        "value"
    )
    body.send_keys("\nP.S. We will call you tomorrow.")
    send = browser.find_element(By.CSS_SELECTOR, "input[value=Send]")
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
