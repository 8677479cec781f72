"""values.schema.json turns bad values away before anything renders, naming the key and the reason."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({"agent": {"privileged": "yes"}}, ["/agent/privileged", "boolean"], id="privileged-not-bool"),
        pytest.param({"agent": {"metricsPort": 0}}, ["/agent/metricsPort", "minimum"], id="port-zero"),
        pytest.param(
            {"operator": {"metricsPort": 70000}}, ["/operator/metricsPort", "maximum"], id="port-too-big"
        ),
        pytest.param({"agent": {"hostNetwork": False}}, ["/agent", "hostNetwork"], id="unknown-agent-key"),
        pytest.param({"vipPools": ["192.0.2.0/24"]}, ["vipPools", "not allowed"], id="pools-at-top-level"),
        pytest.param(
            {"config": {"vipPools": ["192.0.2.1"]}}, ["/config/vipPools/0", "192.0.2.1"], id="pool-not-cidr"
        ),
        pytest.param({"config": {"resyncPeriod": "30"}}, ["/config/resyncPeriod", "30"], id="duration-no-unit"),
        pytest.param(
            {"leaderElection": {"leaseDuration": "15 seconds"}},
            ["/leaderElection/leaseDuration"],
            id="duration-words",
        ),
        pytest.param(
            {"ipvs": {"timeouts": {"tcp": -1}}}, ["/ipvs/timeouts/tcp", "minimum"], id="negative-timeout"
        ),
        pytest.param({"ipvs": {"syncDaemon": {"syncId": 256}}}, ["/ipvs/syncDaemon/syncId"], id="syncid-too-big"),
        pytest.param(
            {"ipvs": {"syncDaemon": {"interface": "a-very-long-ifname0"}}},
            ["/ipvs/syncDaemon/interface"],
            id="interface-name-too-long",
        ),
        pytest.param(
            {"ipvs": {"syncDaemon": {"enabled": True}}},
            ["/ipvs/syncDaemon/interface", "minLength"],
            id="sync-daemon-without-interface",
        ),
        pytest.param({"agent": {"capabilities": ["CAP_NET_ADMIN"]}}, ["/agent/capabilities/0"], id="cap-prefix"),
        pytest.param({"logLevel": "trace"}, ["/logLevel", "info"], id="unknown-log-level"),
        pytest.param({"image": {"digest": "latest"}}, ["/image/digest"], id="digest-not-sha256"),
        pytest.param({"operator": {"replicas": -1}}, ["/operator/replicas"], id="negative-replicas"),
        pytest.param(
            {"operator": {"peering": {"name": "Bad_Name"}}}, ["/operator/peering/name"], id="peering-name"
        ),
    ],
)
def test_bad_values_are_rejected_with_the_key_named(template_error, values, expected) -> None:
    message = template_error(values)
    assert "values don't meet the specifications of the schema" in message
    for fragment in expected:
        assert fragment in message, message
