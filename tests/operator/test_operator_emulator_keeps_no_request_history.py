"""The emulated API server of the stack forgets each request once answered: as fast after hours as at start.

kmock matches a request to its reactions by scanning every request it has recorded; kept, that history makes
each answer slower than the last (seconds per Lease call after minutes of renewals in a TCG guest).
"""

from __future__ import annotations

import emulator
import pytest

LEASE = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "held", "namespace": "kube-lvs"},
    "spec": {"holderIdentity": "dir-a"},
}
LEASES = "coordination.k8s.io/v1"
PATH = emulator.path_of(LEASES, "leases", "kube-lvs", "held")


@pytest.mark.parametrize(
    "calls",
    [
        pytest.param(("get",), id="reads"),
        pytest.param(("get", "put"), id="reads-and-lease-writes"),
    ],
)
def test_answered_requests_leave_no_history(calls: tuple[str, ...]) -> None:
    with emulator.serve(keep_history=False) as served:
        api = emulator.Client(served.url)
        api.create("leases", LEASE)
        for _ in range(20):
            for call in calls:
                lease = api.request("GET", PATH)
                if call == "put":
                    lease["spec"]["renewTime"] = "2026-01-01T00:00:00.000000Z"
                    api.request("PUT", PATH, lease)
        assert list(served.emulator) == []
        assert api.request("GET", PATH)["spec"]["holderIdentity"] == "dir-a"
