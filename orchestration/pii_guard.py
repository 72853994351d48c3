"""What PII looks like, stated once: e-mail addresses, phone numbers, IP addresses, user agents
and social handles.

The alert guard here refuses to send text that matches (report tables hold only masked keys, so
a match means something upstream leaked); the warehouse scanner of the tests (tests/pii_scan.py)
runs the same patterns inside DuckDB. So each regex is written in the syntax RE2 (DuckDB's
`regexp_*`) and Python's `re` read alike: no look-around, no `\\w`/`\\d`/`\\s`, explicit ASCII
classes, matched case-insensitively.
"""

import re
from dataclasses import dataclass
from functools import cached_property

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])"
_HEXTET = r"[0-9a-f]{1,4}"


@dataclass(frozen=True)
class PiiPattern:
    """One kind of PII. Group 1 of each regex is the PII itself; around it are the characters
    that must border it (consumed, as RE2 has no look-around)."""

    label: str
    regexes: tuple[str, ...]
    # A match containing this is not that kind after all (a date inside a run of digits).
    unless: str | None = None

    @cached_property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(regex, re.IGNORECASE | re.ASCII) for regex in self.regexes)

    @cached_property
    def compiled_unless(self) -> re.Pattern[str] | None:
        return re.compile(self.unless, re.IGNORECASE | re.ASCII) if self.unless else None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the PII of this kind is in `text` (non-overlapping matches per regex, as in SQL)."""
        return [
            match.span(1)
            for pattern in self.compiled
            for match in pattern.finditer(text)
            if self.compiled_unless is None or not self.compiled_unless.search(match.group(1))
        ]


PII_PATTERNS: dict[str, PiiPattern] = {
    "email": PiiPattern(
        "e-mail",
        # Also URL-encoded (%40), as tracking query strings carry them.
        (r"([a-z0-9_.%+-]+(?:@|%40)[a-z0-9_-]+(?:\.[a-z0-9_-]+)+)",),
    ),
    "phone": PiiPattern(
        "phone",
        (
            # 9 to 15 digits (E.164's most) with phone separators, not inside a word, a decimal,
            # a time or a path (hence the borders); longer runs are ids (social post ids).
            r"(?:^|[^a-z0-9_.:/-])(\+?[0-9](?:[ ()/-]*[0-9]){8,14})(?:$|[^a-z0-9_.:/-]|[.:/-](?:$|[^0-9]))",
            # International with any separators: +44 20 7946 0958, +44.20.7946.0958.
            r"(\+[0-9]{1,3}[ .-]?\(?[0-9]{1,4}\)?(?:[ .-]?[0-9]{2,4}){2,4})",
            # North American: (555) 010-0200, 555.010.0311.
            r"(?:^|[^0-9])(\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4})(?:[^0-9]|$)",
        ),
        unless=r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    ),
    "ipv4": PiiPattern(
        "IP address",
        (rf"(?:^|[^0-9.])((?:{_OCTET}\.){{3}}{_OCTET})(?:$|[^0-9.]|\.(?:$|[^0-9]))",),
    ),
    "ipv6": PiiPattern(
        "IP address",
        (
            rf"(?:^|[^0-9a-z:])((?:{_HEXTET}:){{3,7}}{_HEXTET})(?:$|[^0-9a-z:])",
            # Compressed (`::`): 2001:db8::7334, ::1, fe80::; an IPv4 tail is the IPv4 pattern's.
            rf"({_HEXTET}(?::{_HEXTET})*::(?:{_HEXTET}(?::{_HEXTET})*)?|::{_HEXTET}(?::{_HEXTET})*)",
        ),
    ),
    "user_agent": PiiPattern(
        "user agent",
        (
            r"((?:mozilla|applewebkit|gecko|chrome|safari|firefox|opera|edg|crios|googlebot|python-requests"
            r"|curl|wget)/[0-9][0-9.]*)",
        ),
    ),
    "handle": PiiPattern("handle", (r"(?:^|[^a-z0-9_.%+-])(@[a-z0-9_][a-z0-9_.]+)",)),
}


def _pii_spans(text: str) -> list[tuple[str, int, int]]:
    return [(pattern.label, start, end) for pattern in PII_PATTERNS.values() for start, end in pattern.spans(text)]


def find_pii(text: str) -> list[str]:
    """Kinds of PII-looking text found (by label), sorted, without the values themselves."""
    return sorted({label for label, _, _ in _pii_spans(text)})


def redact_pii(text: str) -> str:
    """The text with each PII-looking part replaced by `[<kind> redacted]`."""
    # A match consumes the character after it, so a neighbour it borders shows up only once the
    # first is gone: redact until nothing is left.
    while spans := _pii_spans(text):
        parts, position = [], 0
        for label, start, end in sorted(spans, key=lambda span: span[1]):
            if start >= position:
                parts += [text[position:start], f"[{label} redacted]"]
            position = max(position, end)
        text = "".join(parts) + text[position:]
    return text
