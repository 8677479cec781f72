"""A minimal valid spec means what the same ipvsadm line without options means; durations round-trip."""

from __future__ import annotations

from typing import Any

import pytest

from kubelvs.api.durations import format_duration, parse_duration
from kubelvs.api.enums import Forwarding, HealthCheckType, NatReturnPath, OnFailure, Scheduler
from kubelvs.api.models import HealthCheck, RealServerSpec, VirtualServer, VirtualServerSpec
from kubelvs.api.objects import parse_object
from kubelvs.api.rules import (
    effective_forwarding,
    effective_nat_return_path,
    effective_port,
    service_identity,
    virtual_server_problems,
)
from kubelvs.planner.ipvs import service as planner_service


def test_virtual_server_defaults_are_ipvsadm_defaults() -> None:
    spec = VirtualServerSpec.model_validate({"address": "192.0.2.10", "port": 80})
    assert spec.scheduler == Scheduler.WLC  # ipvsadm -A without -s
    assert spec.forwarding == Forwarding.DR  # ipvsadm -a without -g/-m/-i
    assert spec.persistence is None  # no -p
    assert spec.scheduler_flags == []
    assert spec.one_packet is False
    assert spec.health_check is None
    assert effective_nat_return_path(spec) == NatReturnPath.ROUTE  # unset: route, as before backends existed
    assert service_identity(spec) == "TCP 192.0.2.10:80"  # -t


def test_real_server_defaults_are_ipvsadm_defaults() -> None:
    vs = VirtualServerSpec.model_validate({"address": "192.0.2.10", "port": 80})
    rs = RealServerSpec.model_validate({"virtualServer": "web", "address": "192.0.2.21"})
    assert rs.weight == 1  # -w 1
    assert (rs.upper_threshold, rs.lower_threshold) == (0, 0)  # no -x / -y
    assert effective_port(vs, rs) == 80  # -r RIP without a port takes the service's
    assert effective_forwarding(vs, rs) == Forwarding.DR


def test_persistence_without_options_is_ipvsadm_dash_p() -> None:
    spec = VirtualServerSpec.model_validate({"address": "192.0.2.10", "port": 80, "persistence": {}})
    assert spec.persistence is not None
    assert spec.persistence.timeout == 300  # ipvsadm -p alone: 300 s
    assert spec.persistence.netmask is None  # no -M: per client address
    assert planner_service(spec).netmask == 32


def test_ipv6_persistence_without_netmask_is_per_client_address() -> None:
    spec = VirtualServerSpec.model_validate({"address": "2001:db8::10", "port": 80, "persistence": {}})
    assert list(virtual_server_problems(spec)) == []
    assert planner_service(spec).netmask == 128


def test_port_zero_is_accepted_with_persistence() -> None:
    spec = VirtualServerSpec.model_validate({"address": "192.0.2.10", "port": 0, "persistence": {"timeout": 50}})
    assert isinstance(
        parse_object(_vs(spec.model_dump(mode="json", by_alias=True, exclude_none=True))), VirtualServer
    )


def test_health_check_defaults() -> None:
    check = HealthCheck()
    assert check.type == HealthCheckType.TCP
    assert (check.interval, check.effective_connect_timeout, check.delay_before_retry) == (6.0, 5.0, 1.0)
    assert check.retries == 1
    assert check.on_failure == OnFailure.QUIESCE


def test_an_unset_connect_timeout_is_cut_to_a_short_interval() -> None:
    check = HealthCheck.model_validate({"interval": "1s"})
    assert (check.connect_timeout, check.effective_connect_timeout) == (None, 1.0)
    given = HealthCheck.model_validate({"interval": "1s", "connectTimeout": "300ms"})
    assert given.effective_connect_timeout == 0.3


@pytest.mark.parametrize(
    ("raw", "address", "identity"),
    [
        pytest.param("2001:db8::10", "2001:db8::10", "TCP [2001:db8::10]:80", id="compressed"),
        pytest.param("2001:DB8:0:0::10", "2001:db8::10", "TCP [2001:db8::10]:80", id="upper-case-long-form"),
        pytest.param("2001:db8::192.0.2.10", "2001:db8::c000:20a", "TCP [2001:db8::c000:20a]:80", id="dotted"),
    ],
)
def test_ipv6_services_are_accepted_and_normalised(raw: str, address: str, identity: str) -> None:
    spec = VirtualServerSpec.model_validate({"address": raw, "port": 80, "persistence": {"netmask": "/64"}})
    assert spec.address == address
    assert service_identity(spec) == identity
    assert isinstance(
        parse_object(_vs(spec.model_dump(mode="json", by_alias=True, exclude_none=True))), VirtualServer
    )


def test_ipv6_prefix_length_may_be_written_without_slash() -> None:
    spec = VirtualServerSpec.model_validate(
        {"address": "2001:db8::10", "port": 80, "persistence": {"netmask": "64"}}
    )
    assert spec.persistence is not None and spec.persistence.netmask == "/64"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("6s", 6.0, id="seconds"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("1m30s", 90.0, id="minutes-and-seconds"),
        pytest.param("2h", 7200.0, id="hours"),
        pytest.param("1h1m1s", 3661.0, id="all-units"),
        pytest.param("1500ms", 1.5, id="milliseconds-over-a-second"),
    ],
)
def test_durations_round_trip(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds
    check = HealthCheck.model_validate({"interval": text})
    assert check.interval == seconds
    dumped = check.model_dump(mode="json", by_alias=True)["interval"]
    assert HealthCheck.model_validate({"interval": dumped}).interval == seconds


@pytest.mark.parametrize(
    ("text", "shortest"),
    [
        pytest.param("6s", "6s", id="6s"),
        pytest.param("500ms", "500ms", id="500ms"),
        pytest.param("1m30s", "1m30s", id="1m30s"),
        pytest.param("90s", "1m30s", id="90s-is-written-1m30s"),
        pytest.param("1.5s", "1500ms", id="fraction-is-written-in-ms"),
    ],
)
def test_durations_are_written_in_their_shortest_exact_form(text: str, shortest: str) -> None:
    assert HealthCheck.model_validate({"interval": text}).model_dump(mode="json")["interval"] == shortest


def _vs(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "lvs.kubelvs.io/v1alpha1",
        "kind": "VirtualServer",
        "metadata": {"name": "v"},
        "spec": spec,
    }
