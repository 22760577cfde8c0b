"""Secrets that travel in URLs are masked before a log line is written.

An invitation link (`/invite/<token>/`) and a password-reset link (`/reset/<uid>/<token>/`)
let whoever holds them in: the access log and Django's "Not Found" lines would otherwise hand
them to anyone who reads the console's output.
"""

import logging
import re

REDACTED = "[redacted]"
_PATTERNS = [
    re.compile(r"(/invite/)[^/\s?\"']+"),
    re.compile(r"(/reset/[^/\s?\"']+/)(?!set-password/)[^/\s?\"']+"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """A handler filter: rewrites the record's message with the secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the formatter's problem, not ours
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
