"""How a reply finds the message it answers: headers and reply addresses.

Every e-mail the portal sends carries a signed Message-ID naming the message
(``<switchboard-message-42.<signature>@domain>``, see channels.EmailChannel);
a reply names it again in In-Reply-To or References. Some mail clients drop those
headers, so when INBOUND_REPLY_ADDRESS is set the e-mail also asks for
replies at ``replies+42-<signature>@domain``: the signature keeps anybody
from posting onto an incident by guessing numbers.
"""

import email
import email.policy
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr

from django.conf import settings
from django.utils.html import strip_tags

MESSAGE_ID = re.compile(
    r"<switchboard-message-(\d+)(?:-\d+)?\.([0-9a-f]{16})@([^>\s]+)>", re.I
)
REPLY_TOKEN = re.compile(r"\+(\d+)-([0-9a-f]{12})@", re.I)
# Where a mail client starts quoting what it answers.
QUOTE_START = re.compile(
    r"^(On .{0,200}wrote:|-----\s*Original Message\s*-----|From: .+|_{10,})\s*$",
    re.I,
)


def _signature(message_pk: int) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(),
        f"switchboard-reply:{message_pk}".encode(),
        hashlib.sha256,
    )
    return digest.hexdigest()[:12]


def _message_id_signature(message_pk: int) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(),
        f"switchboard-message-id:{message_pk}".encode(),
        hashlib.sha256,
    ).hexdigest()[:16]


def message_id_header(message_pk: int, suffix: str = "") -> str:
    """Return the Message-ID an e-mail of message ``message_pk`` carries.

    Signed, so that a reply's References cannot name another incident's
    message by counting: ids are visible in every e-mail we send.
    """
    return (
        f"<switchboard-message-{message_pk}{suffix}."
        f"{_message_id_signature(message_pk)}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"
    )


def _message_id_checks_out(message_pk: int, signature: str) -> bool:
    return hmac.compare_digest(_message_id_signature(message_pk), signature.lower())


def reply_address(message_pk: int) -> str:
    """Return the address replies to a message should go to, or ''."""
    base = settings.INBOUND_REPLY_ADDRESS
    if not base or "@" not in base:
        return ""
    local, domain = base.split("@", 1)
    return f"{local}+{message_pk}-{_signature(message_pk)}@{domain}"


def referenced_message_ids(*headers: str) -> list[int]:
    """Return the portal messages named in threading headers, newest first.

    Only ids stamped with this portal's own domain count.
    """
    domain = settings.EMAIL_MESSAGE_ID_DOMAIN.lower()
    found = [
        int(pk)
        for header in headers
        for pk, signature, at in MESSAGE_ID.findall(header or "")
        if at.lower() == domain and _message_id_checks_out(int(pk), signature)
    ]
    # References lists the thread oldest first; In-Reply-To is the newest.
    return list(dict.fromkeys(reversed(found)))


def token_message_id(addresses: list[str]) -> int | None:
    """Return the message a signed reply address names, if it checks out."""
    for address in addresses:
        match = REPLY_TOKEN.search(address or "")
        if match and hmac.compare_digest(
            match.group(2).lower(), _signature(int(match.group(1)))
        ):
            return int(match.group(1))
    return None


def reply_text(text: str) -> str:
    """Return what the sender wrote, without the quoted message below it."""
    kept = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if QUOTE_START.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


@dataclass
class ParsedMail:
    from_address: str
    from_name: str = ""
    to_addresses: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""


def parse_raw(raw: bytes) -> ParsedMail:
    """Parse an RFC 5322 message as the SMTP receiver gets it."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        try:
            text = body.get_content()
        except (LookupError, UnicodeError):
            text = body.get_payload(decode=True).decode("utf-8", "replace")
        if body.get_content_type() == "text/html":
            text = strip_tags(text)
    name, address = parseaddr(str(parsed.get("From", "")))
    return ParsedMail(
        from_address=address,
        from_name=name,
        to_addresses=[
            a
            for _, a in getaddresses(
                [str(parsed.get(h, "")) for h in ("To", "Cc", "Delivered-To")]
            )
            if a
        ],
        subject=str(parsed.get("Subject", "")),
        text=text,
        message_id=str(parsed.get("Message-ID", "")).strip(),
        in_reply_to=str(parsed.get("In-Reply-To", "")),
        references=str(parsed.get("References", "")),
    )


class UnreadablePayload(ValueError):
    """The webhook payload is not an e-mail we can read."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.fields = fields  # {field path: problem}, as the JSON names it


# Every text field read from a provider's JSON, by its lower-cased name:
# providers spell them differently (Postmark's TextBody, Mailgun's
# body-plain), and a value of another type is refused, never read as "".
TEXT_FIELDS = (
    "from",
    "sender",
    "fromname",
    "to",
    "recipient",
    "originalrecipient",
    "cc",
    "subject",
    "strippedtextreply",
    "stripped-text",
    "textbody",
    "body-plain",
    "text",
    "htmlbody",
    "body-html",
    "html",
    "message_id",
    "messageid",
    "message-id",
    "in_reply_to",
    "in-reply-to",
    "references",
)
HEADER_FIELDS = ("headers", "message-headers", "raw")
POSTMARK_HEADERS = "Headers"
HEADER_SHAPE = "A list of Name/Value objects."
PAIR_SHAPE = "A Name/Value object or a [name, value] pair."


def _header_problems(name: str, value) -> dict[str, str]:
    """Return {field path: problem} for a header field of the wrong shape."""
    if value is None:
        return {}
    # Postmark always posts its Headers as a list of Name/Value objects, so
    # text there is a client's mistake; other spellings may hold SendGrid's
    # raw header block or a plain object.
    if name != POSTMARK_HEADERS:
        if isinstance(value, str):
            return {}
        if isinstance(value, dict):
            return {
                f"{name}.{key}": "Must be text."
                for key, item in value.items()
                if not isinstance(item, str | None)
            }
    if not isinstance(value, list):
        return {name: HEADER_SHAPE}
    problems = {}
    for index, item in enumerate(value):
        at = f"{name}[{index}]"
        if isinstance(item, dict):
            if not isinstance(item.get("Name"), str):
                problems[f"{at}.Name"] = "Must be text."
            if not isinstance(item.get("Value"), str | None):
                problems[f"{at}.Value"] = "Must be text."
        elif not (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(part, str) for part in item)
        ):
            problems[at] = PAIR_SHAPE
    return problems


def _wrong_types(payload: dict) -> dict[str, str]:
    """Return {field path: problem} for every field read with the wrong type."""
    problems = {}
    for name, value in payload.items():
        key = str(name).lower()
        if key in TEXT_FIELDS and not isinstance(value, str | None):
            problems[name] = "Must be text."
        elif key in HEADER_FIELDS:
            problems |= _header_problems(name, value)
    return problems


def _headers(value) -> dict[str, str]:
    """Normalise the header shapes providers post to one lower-case dict.

    ``value`` has passed ``_header_problems``.
    """
    if isinstance(value, dict):
        return {k.lower(): v for k, v in value.items() if v is not None}
    if isinstance(value, list):
        pairs = {}
        for item in value:
            if isinstance(item, dict):
                pairs[item["Name"].lower()] = item.get("Value") or ""
            else:
                pairs[item[0].lower()] = item[1]
        return pairs
    if isinstance(value, str):
        parsed = email.message_from_string(value, policy=email.policy.default)
        return {k.lower(): str(v) for k, v in parsed.items()}
    return {}


def parse_provider_json(payload) -> ParsedMail:
    """Read the JSON common inbound-mail providers post.

    Accepts Postmark's shape (From, To, Subject, TextBody, MessageID,
    Headers as Name/Value pairs), Mailgun's (sender, recipient,
    body-plain, stripped-text, message-headers), SendGrid's (from, to,
    text, headers as raw text) and a plain one (from, to, subject, text,
    message_id, in_reply_to, references). A field it reads that holds
    another type (a number, a list, an object) is refused by name; null
    counts as absent.
    """
    if not isinstance(payload, dict):
        raise UnreadablePayload(
            "Post a JSON object describing one e-mail.",
            {"body": "Post one JSON object."},
        )
    problems = _wrong_types(payload)
    if problems:
        raise UnreadablePayload(
            "The e-mail is malformed.", dict(sorted(problems.items()))
        )
    fields = {str(k).lower(): v for k, v in payload.items()}
    spelled = {str(k).lower(): str(k) for k in payload}

    def first(*names) -> str:
        for name in names:
            value = fields.get(name)
            if isinstance(value, str) and value.strip():
                return value
        return ""

    headers = _headers(
        fields.get("headers") or fields.get("message-headers") or fields.get("raw")
    )
    name, address = parseaddr(first("from", "sender") or headers.get("from", ""))
    if not address or "@" not in address:
        sender = spelled.get("from") or spelled.get("sender") or "from"
        raise UnreadablePayload(
            "The e-mail has no sender address (from).",
            {sender: "No e-mail address."},
        )
    name = first("fromname") or name
    to = [
        a
        for _, a in getaddresses(
            [first("to", "recipient", "originalrecipient"), first("cc")]
        )
        if a
    ]
    text = first("strippedtextreply", "stripped-text", "textbody", "body-plain", "text")
    if not text:
        text = strip_tags(first("htmlbody", "body-html", "html"))
    return ParsedMail(
        from_address=address,
        from_name=name,
        to_addresses=to,
        subject=first("subject") or headers.get("subject", ""),
        text=text,
        message_id=first("message_id", "messageid", "message-id")
        or headers.get("message-id", ""),
        in_reply_to=first("in_reply_to", "in-reply-to")
        or headers.get("in-reply-to", ""),
        references=first("references") or headers.get("references", ""),
    )


def _storable_text(text: str) -> tuple[str, int]:
    """Return ``text`` with what no database stores replaced, and how many."""
    cleaned = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    replaced = sum(1 for a, b in zip(text, cleaned, strict=True) if a != b)
    return cleaned, replaced


def storable(parsed: ParsedMail) -> tuple[ParsedMail, int]:
    """Return the mail with NULs and unpaired surrogates replaced, and how
    many characters were: a mail is kept, not lost, for a stray byte."""
    replaced = 0
    for name in (
        "from_address",
        "from_name",
        "subject",
        "text",
        "message_id",
        "in_reply_to",
        "references",
    ):
        value, count = _storable_text(getattr(parsed, name) or "")
        setattr(parsed, name, value)
        replaced += count
    addresses = []
    for address in parsed.to_addresses:
        value, count = _storable_text(address)
        addresses.append(value)
        replaced += count
    parsed.to_addresses = addresses
    return parsed, replaced
