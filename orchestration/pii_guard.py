"""A last guard before text leaves the product: does it look like an e-mail address, a phone
number, an IP address, a social handle or a user agent? Report tables hold only masked keys,
so a match means something upstream leaked, and the text is not sent."""

import ipaddress
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digit runs with phone separators; dates and short numbers are told apart below.
_PHONE = re.compile(r"(?<![\w.:/-])\+?\d[\d ()/-]{7,}\d(?!\w|[.:/-]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PHONE_MIN_DIGITS = 9
_IP_CANDIDATE = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*")
_HANDLE = re.compile(r"(?<![\w.%+@-])@[A-Za-z0-9_][A-Za-z0-9_.]+")
_USER_AGENT = re.compile(
    r"\b(?:mozilla|applewebkit|gecko|chrome|safari|firefox|opera|edg|crios|googlebot|python-requests|curl|wget)/\d",
    re.IGNORECASE,
)


def _is_ip(token: str) -> bool:
    try:
        ipaddress.ip_address(token.strip(".:"))
    except ValueError:
        return False
    return True


def _pii_spans(text: str) -> list[tuple[str, int, int]]:
    spans = [("e-mail", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    spans += [
        ("phone", m.start(), m.end())
        for m in _PHONE.finditer(text)
        if sum(c.isdigit() for c in m.group()) >= _PHONE_MIN_DIGITS and not _DATE.search(m.group())
    ]
    spans += [("IP address", m.start(), m.end()) for m in _IP_CANDIDATE.finditer(text) if _is_ip(m.group())]
    spans += [("handle", m.start(), m.end()) for m in _HANDLE.finditer(text)]
    spans += [("user agent", m.start(), m.end()) for m in _USER_AGENT.finditer(text)]
    return spans


def find_pii(text: str) -> list[str]:
    """Kinds of PII-looking text found, sorted, without the values themselves."""
    return sorted({kind for kind, _, _ in _pii_spans(text)})


def redact_pii(text: str) -> str:
    """The text with each PII-looking part replaced by `[<kind> redacted]`."""
    parts, position = [], 0
    for kind, start, end in sorted(_pii_spans(text), key=lambda span: span[1]):
        if start >= position:
            parts += [text[position:start], f"[{kind} redacted]"]
        position = max(position, end)
    return "".join(parts) + text[position:]
