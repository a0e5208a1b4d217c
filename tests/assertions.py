from django.core.exceptions import ValidationError


def error_codes(exc: ValidationError) -> set[str]:
    """Return every code a ValidationError carries, field errors included."""
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}
