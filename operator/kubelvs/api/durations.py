"""Go-style durations ("6s", "500ms", "1m30s"), the spelling Kubernetes users already write.

A duration is a string, as the CRD's ``type: string`` has it: a bare ``6`` is refused (six seconds or six
nanoseconds? Go's ``time.ParseDuration`` refuses it too), and so is ``true``. Every duration is finite and
at most what Go's ``time.Duration`` holds; a field of the API is also at most :data:`MAX_SECONDS` and at
least its own minimum (below), which the CRD's CEL rules state with CEL's ``duration()``.

Parsed here, not by durationpy (the kubernetes client's dependency): on the spellings the API accepts both give
the same seconds, but durationpy keeps only microseconds (``9.9999999ms`` is 10ms to it, so it passes a 10ms
minimum that Go, and so the API server's CEL, refuses), accepts ``d`` (Go does not) and durations past Go's
int64 nanoseconds (``2562048h``). The operator and the API server must judge a duration alike, so the hand
parser stays; tests/unit/api/test_durations_parse_as_go_does_where_durationpy_differs.py pins each difference.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

from kubelvs.api.problems import shown

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
MAX_TEXT = 32  # the CRD's maxLength, which also bounds CEL's duration() cost
GO_LIMIT = (2**63 - 1) / 1e9  # time.Duration is int64 nanoseconds: about 292 years

MAX_SECONDS = 24 * 3600.0
MAX_WHY = "no health check waits a day, so a longer duration is a slip (6h for 6s)"
# The health check's minimums, each with the reason a message gives.
MIN_INTERVAL = 0.1
MIN_INTERVAL_WHY = "checking more often loads the real servers without detecting a failure any sooner"
MIN_CONNECT_TIMEOUT = 0.01
MIN_CONNECT_TIMEOUT_WHY = "a healthy server's answer can take that long on a busy network, so it would flap"
MIN_RETRY_DELAY = 0.01
MIN_RETRY_DELAY_WHY = "a retry sooner than that meets the same failure again"
TIMEOUT_OVER_INTERVAL_WHY = "a check must end before the next one starts, or checks pile up"


def parse_duration(value: object) -> float:
    """Return seconds for "6s", "1m30s", "500ms"; anything but such a string is refused."""
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not a duration: write a string such as '6s', '1m30s' or '500ms'")
    if len(value) > MAX_TEXT or not re.fullmatch(PATTERN, value):
        raise ValueError(f"{shown(value)} is not a duration; write e.g. '6s', '1m30s' or '500ms'")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    if not math.isfinite(seconds) or seconds > GO_LIMIT:
        raise ValueError(f"{shown(value)} is longer than a Go time.Duration holds (about 292 years)")
    if seconds <= 0:
        raise ValueError(f"{shown(value)} must be longer than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest exact spelling: 6.0 -> "6s", 0.5 -> "500ms", 90 -> "1m30s"."""
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    whole = millis // 1000
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


def _spoken(seconds: float) -> str:
    """A duration as a message says it, exact also below a millisecond (format_duration rounds there)."""
    return format_duration(seconds) if seconds >= 1 else f"{seconds * 1000:g}ms"


def _at_most_a_day(seconds: float) -> float:
    if seconds > MAX_SECONDS:
        raise ValueError(f"{_spoken(seconds)} is longer than {format_duration(MAX_SECONDS)}: {MAX_WHY}")
    return seconds


def at_least(minimum: float, why: str) -> AfterValidator:
    """The rule of a Duration field with a minimum: ``Annotated[Duration, at_least(0.1, "why")]``."""

    def check(seconds: float) -> float:
        if seconds < minimum:
            raise ValueError(f"{_spoken(seconds)} is shorter than {format_duration(minimum)}: {why}")
        return seconds

    return AfterValidator(check)


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    AfterValidator(_at_most_a_day),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": PATTERN, "maxLength": MAX_TEXT}),
]
"""A duration field of the API: a Go duration string, above zero and at most :data:`MAX_SECONDS`."""
