"""The status-page channel: delivering a status page message posts it."""


class StatusPageChannel:
    """Posts the message's update on its page; the subscribers' e-mails
    follow from the cluster. Posting twice is a no-op, so a retried
    delivery never posts twice."""

    def send(self, message, **_callbacks) -> None:
        from comms.channels import DeliveryError

        from .models import PublicUpdate
        from .services import post_update
        from .services.publishing import StalePost

        try:
            post_update(message=message)
        except StalePost as exc:
            raise DeliveryError(str(exc)) from None
        except PublicUpdate.DoesNotExist:
            raise DeliveryError(
                "This status page message carries no update: post it again on "
                "the incident's Status page tab."
            ) from None
