import logging


class OneLineForbidden(logging.Filter):
    """Log a refused request (403) as one line, without a traceback.

    Django logs a PermissionDenied with its traceback, which buries the one
    fact that matters (who was refused what) under a stack nobody needs: a
    refusal is the permission system working, not a fault.
    """

    def filter(self, record):
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
