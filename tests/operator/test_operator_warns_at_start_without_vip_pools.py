"""The operator starts with one warning when no VIP pools are set -- what that allows, and the flag, env and
chart value that fix it -- and none with pools (issue 11). kopf itself is not started: the warning is said
by the start-up (``serve``) before kopf runs."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import pytest

from kubelvs.controller import running
from kubelvs.controller.config import OperatorConfig
from kubelvs.controller.load_balancer_writes import LoadBalancerWriter
from kubelvs.controller.writing import StatusWriter


@pytest.mark.parametrize(
    ("pools", "warned"),
    [((), True), ((ipaddress.ip_network("192.0.2.0/24"),), False)],
    ids=["no-pools", "pools"],
)
def test_the_operator_warns_once_at_start_without_pools(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, pools: tuple, warned: bool
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(running.kopf, "run", lambda **kwargs: started.append(kwargs))
    with caplog.at_level(logging.WARNING):
        running.serve(
            OperatorConfig(vip_pools=pools),
            running.Scope(standalone=True),
            StatusWriter(None),
            LoadBalancerWriter(None, None),
        )
    assert len(started) == 1, "serve went on to start kopf"
    lines = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "VIP pools" in r.getMessage()
    ]
    if not warned:
        assert lines == []
        return
    assert len(lines) == 1, lines
    (line,) = lines
    assert "any address may be claimed as a VIP, including addresses other tenants" in line
    assert "--vip-pools CIDR,... (or env KUBELVS_VIP_POOLS)" in line and "config.vipPools" in line
