"""The API's durations are parsed by hand (kubelvs.api.durations), not by durationpy: on every spelling the
API accepts the two give the same seconds, but durationpy rounds to microseconds, knows a ``d`` unit and holds
more than Go's int64 nanoseconds, where Go (and so the API server's CEL ``duration()``) refuses or truncates.
If durationpy ever parses these as Go does, this test says so and the hand parser can go."""

from __future__ import annotations

import durationpy
import pytest

from kubelvs.api.durations import MIN_CONNECT_TIMEOUT, parse_duration

ACCEPTED = ["6s", "500ms", "1m30s", "1h30m", "1.5s", "1.5h", "0.1s", "0.3s", "1.1ms", "5m0s", "1h1h", "1m30.5s",
            "10ms", "24h", "2562047h"]  # fmt: skip


@pytest.mark.parametrize("text", ACCEPTED)
def test_where_the_api_accepts_a_duration_both_read_the_same_seconds(text: str) -> None:
    assert parse_duration(text) == pytest.approx(durationpy.from_str(text).total_seconds(), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param("0", "must be longer than zero|is not a duration", id="bare-zero"),
        pytest.param("0s", "must be longer than zero", id="zero"),
        pytest.param("-1s", "is not a duration", id="negative"),
        pytest.param("1us", "is not a duration", id="microseconds"),
        pytest.param("1µs", "is not a duration", id="micro-sign"),
        pytest.param("1ns", "is not a duration", id="nanoseconds"),
        pytest.param("+1s", "is not a duration", id="plus-sign"),
        pytest.param(".5s", "is not a duration", id="no-leading-digit"),
    ],
)
def test_the_api_refuses_what_its_crd_pattern_refuses_though_durationpy_reads_it(text: str, why: str) -> None:
    durationpy.from_str(text)  # durationpy (like Go) reads every one of these
    with pytest.raises(ValueError, match=why):
        parse_duration(text)


@pytest.mark.parametrize("text", ["6", "", "true", " 1s", "1S", "1e3s"])
def test_both_refuse_what_is_no_duration(text: str) -> None:
    with pytest.raises(durationpy.DurationError):
        durationpy.from_str(text)
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_durationpy_rounds_to_microseconds_where_go_keeps_nanoseconds() -> None:
    """9.9999999ms is below the 10ms minimum for Go and CEL; durationpy's 10ms would pass it."""
    assert durationpy.from_str("9.9999999ms").total_seconds() == MIN_CONNECT_TIMEOUT
    assert parse_duration("9.9999999ms") < MIN_CONNECT_TIMEOUT
    assert durationpy.from_str("1.0000001s").total_seconds() == 1.0 != parse_duration("1.0000001s")


def test_durationpy_knows_days_which_go_does_not() -> None:
    assert durationpy.from_str("1d").total_seconds() == 86400
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("1d")


def test_durationpy_holds_more_than_gos_int64_nanoseconds() -> None:
    assert durationpy.from_str("2562048h").total_seconds() == 2562048 * 3600
    with pytest.raises(ValueError, match=r"longer than a Go time\.Duration holds"):
        parse_duration("2562048h")
