"""One router per resource; api.views mounts them."""
