"""The signature every delivery carries (documented in docs/webhooks.md).

``Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` where the
HMAC's key is the endpoint's secret and its message is ``"<t>." + raw body``:
the timestamp is signed with the body, so a recorded delivery cannot be
sent again later with a fresh time.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "Switchboard-Signature"
EVENT_HEADER = "Switchboard-Event"
DELIVERY_HEADER = "Switchboard-Delivery"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """Return the Switchboard-Signature header's value."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
