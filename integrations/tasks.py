"""Tasks of the integrations app, enqueued on commit by its services and by
the sweep (portal.tasks)."""


def deliver_webhook(delivery_id: int) -> str:
    from . import services

    delivery = services.deliver_webhook(delivery_id=delivery_id)
    return delivery.status if delivery else "not pending"
