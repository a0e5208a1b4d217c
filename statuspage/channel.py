"""The status-page channel: delivering a status page message posts it."""


class StatusPageChannel:
    """Posts the message's update on its page; the subscribers' e-mails
    follow from the cluster. Posting twice is a no-op, so a retried
    delivery never posts twice."""

    def send(self, message, **_callbacks) -> None:
        from .services import post_update

        post_update(message=message)
