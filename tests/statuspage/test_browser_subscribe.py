"""Subscribe, confirm, get an update and unsubscribe, in headless Chromium,
with the mail going through a real SMTP server on loopback."""

import email
import email.policy
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.test_browser import assert_nothing_refused, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LINK = re.compile(r"https?://\S+")


def _mail(envelope):
    return email.message_from_bytes(envelope.content, policy=email.policy.default)


def test_reader_subscribes_confirms_gets_an_update_and_unsubscribes(
    live_server,
    browser,  # noqa: F811
    smtp_server,
    settings,
    q2_sync,
):
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from statuspage.models import (
        Component,
        Impact,
        Publication,
        PublicStatus,
        PublicUpdate,
        StatusPage,
        Subscriber,
    )
    from statuspage.services import subscribers

    def wait_for_text(text):
        # The page being left may still answer while the next one loads.
        WebDriverWait(
            browser,
            10,
            ignored_exceptions=[
                StaleElementReferenceException,
                NoSuchElementException,
            ],
        ).until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)

    def wait_for_mails(count):
        WebDriverWait(browser, 10).until(lambda _: len(smtp_server.messages) >= count)
        return _mail(smtp_server.messages[count - 1])

    # Update e-mails are sent from the cluster, with no request to take the
    # host from: they link to the portal's address.
    settings.PORTAL_BASE_URL = live_server.url
    page = StatusPage.objects.create(
        name="Fleet Manager", slug="fleet", brand_text="Fleet Manager"
    )
    tracking = Component.objects.create(page=page, name="Vehicle tracking")
    Component.objects.create(page=page, name="Billing")

    # The public page's own form leads to the subscribe page, address kept.
    browser.get(live_server.url + reverse("statuspage:page", args=[page.slug]))
    browser.find_element(By.NAME, "email").send_keys("reader@example.com")
    browser.find_element(By.CSS_SELECTOR, "#subscribe button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: "/subscribe/" in d.current_url)
    assert (
        browser.find_element(By.NAME, "email").get_attribute("value")
        == "reader@example.com"
    )
    browser.find_element(
        By.XPATH, "//label[contains(., 'Vehicle tracking')]/preceding-sibling::input"
    ).click()
    browser.find_element(By.NAME, "subscribe").click()
    wait_for_text("Check your inbox to confirm")

    confirmation = wait_for_mails(1)
    assert smtp_server.messages[0].rcpt_tos == ["reader@example.com"]
    [confirm_link] = [
        u for u in LINK.findall(confirmation.get_content()) if "/confirm/" in u
    ]
    browser.get(confirm_link)
    wait_for_text("Confirm your subscription")
    subscriber = Subscriber.objects.get(email="reader@example.com")
    assert subscriber.confirmed_at is None  # opening the link confirms nothing
    browser.find_element(By.NAME, "confirm").click()
    wait_for_text("You are subscribed")
    subscriber.refresh_from_db()
    assert subscriber.is_active
    assert list(subscriber.components.all()) == [tracking]

    publication = Publication.objects.create(
        page=page, kind=Publication.Kind.MAINTENANCE, title="Tracking upgrade"
    )
    update = PublicUpdate.objects.create(
        publication=publication,
        status=PublicStatus.IN_PROGRESS,
        impact=Impact.MAINTENANCE,
        body="Positions may lag for ten minutes.",
        posted_at=timezone.now(),
    )
    update.components.set([tracking])
    subscribers.notify_subscribers(update_id=update.pk)

    notice = wait_for_mails(2)
    # Long and non-ASCII headers are folded onto a line of their own.
    assert notice["Subject"].strip() == "[Fleet Manager] Tracking upgrade — In progress"
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_link = notice["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe_link in notice.get_content()
    browser.get(unsubscribe_link)
    wait_for_text("Stop e-mailing Fleet Manager updates")
    browser.find_element(By.NAME, "unsubscribe").click()
    wait_for_text("You are unsubscribed")

    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    assert not subscriber.is_active
    assert len(smtp_server.messages) == 2
    assert_nothing_refused(browser)
