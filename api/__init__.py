"""The REST API at /api/v1/: django-ninja over the apps' services."""
