"""``kubelvs operator`` refuses bad flags before it starts kopf, naming the flag and the value."""

from __future__ import annotations

import pytest

from kubelvs.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--all-namespaces", "--vip-pools", "192.0.2.0/24,10.0.0.1/8"],
            "--vip-pools entry 2 '10.0.0.1/8' is not a network in CIDR form",
            id="host-bits-set",
        ),
        pytest.param(
            ["--all-namespaces", "--vip-pools", "192.0.2.0/33"],
            "--vip-pools entry 1 '192.0.2.0/33'",
            id="prefix-too-long",
        ),
        pytest.param(
            ["--all-namespaces", "--metrics-port", "70000"],
            "--metrics-port 70000 is not a port",
            id="metrics-port",
        ),
        pytest.param(
            ["--all-namespaces", "--metrics-address", "0.0.0.0"],
            "--metrics-address '0.0.0.0' would listen on every address",
            id="metrics-address-unspecified",
        ),
        pytest.param(
            ["--all-namespaces", "--metrics-address", "::"],
            "--metrics-address '::' would listen on every address",
            id="metrics-address-unspecified-ipv6",
        ),
        pytest.param(
            ["--all-namespaces", "--metrics-address", "localhost"],
            "--metrics-address 'localhost' is not an IP address",
            id="metrics-address-name",
        ),
        pytest.param(
            ["--all-namespaces", "--metrics-address", ""],
            "--metrics-address '' is not an IP address",
            id="metrics-address-empty",
        ),
    ],
)
def test_bad_values_exit_2_with_a_message(argv, message, capsys):
    assert main(["operator", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="neither-namespace-nor-all"),
        pytest.param(["-A", "-n", "default"], id="namespace-and-all"),
        pytest.param(["-A", "--peering", "kubelvs", "--standalone"], id="peering-and-standalone"),
    ],
)
def test_contradicting_or_missing_scope_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["operator", *argv])
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err
