"""Sysctl paths are relative /proc/sys paths; anything else is refused before a file is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs.kernel.sysctl import ProcSysctls, SysctlNotFound


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/proc/sys/net/ipv4/ip_forward", id="absolute"),
        pytest.param("net/ipv4/../../../etc/passwd", id="dot-dot"),
        pytest.param("net.ipv4.ip_forward", id="dotted-form"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_path_is_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(ValueError, match="is not a relative path"):
        ProcSysctls(root=tmp_path).read(path)


def test_multi_value_keys_read_with_single_spaces(tmp_path: Path) -> None:
    (tmp_path / "net/ipv4").mkdir(parents=True)
    (tmp_path / "net/ipv4/ip_local_port_range").write_text("32768\t60999\n")
    assert ProcSysctls(root=tmp_path).read("net/ipv4/ip_local_port_range") == "32768 60999"


def test_missing_key(tmp_path: Path) -> None:
    sysctls = ProcSysctls(root=tmp_path)
    assert sysctls.read("net/ipv4/conf/eth9/rp_filter") is None
    with pytest.raises(SysctlNotFound, match="net/ipv4/conf/eth9/rp_filter does not exist"):
        sysctls.write("net/ipv4/conf/eth9/rp_filter", "0")
