"""Cluster tasks of the status pages."""


def notify_subscribers(update_id: int) -> dict:
    """E-mail a posted update to its page's subscribers, each once."""
    from .services import subscribers

    return subscribers.notify_subscribers(update_id=update_id)
