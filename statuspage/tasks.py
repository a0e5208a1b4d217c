"""Cluster tasks of the status pages."""

from .services import subscribers


def notify_subscribers(update_id: int) -> dict:
    """E-mail a posted update to its page's subscribers, each once."""
    return subscribers.notify_subscribers(update_id=update_id)


def send_subscription_mail(
    subscriber_id: int, component_ids: list[int], base_url: str
) -> str:
    """E-mail an address the link that confirms its subscription."""
    return subscribers.send_subscription_mail(
        subscriber_id=subscriber_id, component_ids=component_ids, base_url=base_url
    )
