"""Timings that would let two nodes lead at once are refused with the reason."""

from __future__ import annotations

import pytest

from kubelvs.agent.election import ElectionSettings


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"renew_deadline": 1.5},
            "renew_deadline (1.5s) must be shorter than lease_duration",
            id="deadline-equals-lease",
        ),
        pytest.param(
            {"renew_period": 1.0},
            "renew_period (1.0s) must be shorter than renew_deadline",
            id="period-equals-deadline",
        ),
        pytest.param(
            {"retry_period": 0.5}, "retry_period (0.5s) must be shorter than renew_period", id="retry-equals-renew"
        ),
        pytest.param({"retry_period": 0}, "retry_period must be longer than zero", id="zero-retry"),
    ],
)
def test_unsafe_timings_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ElectionSettings(**changes)
