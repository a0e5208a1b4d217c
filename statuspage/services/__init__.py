from .publishing import (
    PUBLISHABLE_PRIORITIES,
    post_update,
    publish_from_incident,
    suggested_components,
)

__all__ = [
    "PUBLISHABLE_PRIORITIES",
    "post_update",
    "publish_from_incident",
    "suggested_components",
]
