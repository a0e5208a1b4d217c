"""django-q2 entry points for incidents (the sweep lives in portal.tasks)."""
