"""Cluster tasks of the escalations app; the rest of its due work runs in
the sweep (portal.tasks)."""


def deliver_page(delivery_id: int) -> str:
    from .services import paging

    delivery = paging.deliver_page(delivery_id=delivery_id)
    return delivery.status if delivery else "not pending"
