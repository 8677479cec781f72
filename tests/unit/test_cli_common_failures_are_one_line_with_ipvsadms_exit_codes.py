"""The common failures end in one line on stderr that says what to do, no traceback, and ipvsadm's exit status
2 ("could not start"): no ip_vs module (this host's kernel has no IPVS), no cluster credentials, a file that
is missing or unreadable. Each runs ``kubelvs`` as a process; no privilege for IPVS is the VM's test
(tests/kernel/test_export_roundtrip_status_reads_the_live_table.py), where the IPVS family exists."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = str(REPO / "examples")
NO_IPVS = pytest.mark.skipif(Path("/proc/net/ip_vs").exists(), reason="this kernel has IPVS")


def _kubelvs(*argv: str, env: dict[str, str] | None = None, user: str | None = None) -> tuple[int, list[str]]:
    """Exit status and stderr lines of ``kubelvs argv`` (as ``user`` through setpriv when given)."""
    command = [sys.executable, "-m", "kubelvs.cli", *argv]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=env, cwd="/")
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stderr.splitlines()


@pytest.fixture
def no_credentials(tmp_path: Path) -> dict[str, str]:
    """An environment with no kubeconfig anywhere and no in-cluster service account variables."""
    home = tmp_path / "home"
    home.mkdir()
    dropped = {"KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}
    return {**{k: v for k, v in os.environ.items() if k not in dropped}, "HOME": str(home)}


@NO_IPVS
@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["status"], id="status"),
        pytest.param(["status", "--stats", "-o", "json"], id="status-json"),
        pytest.param(["agent", "--standalone", "--manifests", EXAMPLES, "--no-sync-daemon", "--once"], id="agent"),
    ],
)
def test_no_ip_vs_module_says_modprobe(argv: list[str]) -> None:
    status, lines = _kubelvs(*argv)
    assert status == 2
    assert lines == [f"kubelvs {argv[0]}: this kernel has no IPVS (the ip_vs module is not loaded): load it with "
                     "`modprobe ip_vs`"]  # fmt: skip


def test_the_operator_without_credentials_says_where_they_come_from(no_credentials: dict[str, str]) -> None:
    argv = ["operator", "-A", "--standalone", "--metrics-port", "0", "--vip-pools", "192.0.2.0/24"]
    status, [line] = _kubelvs(*argv, env=no_credentials)
    assert status == 2
    assert line.startswith("kubelvs operator: no cluster credentials (")
    assert line.endswith("): set KUBECONFIG or run in a pod")


def test_the_cluster_agent_without_credentials_fails_in_one_line(no_credentials: dict[str, str]) -> None:
    status, [line] = _kubelvs("agent", "--no-sync-daemon", env=no_credentials)
    assert status == 2
    assert line.startswith("kubelvs agent: ") and "credentials" in line


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["validate"], id="validate"),
        pytest.param(["validate", "-o", "json"], id="validate-json"),
        pytest.param(["export"], id="export"),
        pytest.param(["status", "--manifests"], id="status-manifests"),
        pytest.param(["import", "ipvsadm"], id="import-ipvsadm"),
        pytest.param(["import", "keepalived"], id="import-keepalived"),
        pytest.param(["import", "metallb"], id="import-metallb"),
    ],
)
def test_a_missing_file_is_named(argv: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    status, lines = _kubelvs(*argv, str(missing))
    assert status == 2
    assert lines == [f"kubelvs {argv[0]}: {missing}: No such file or directory"]


@pytest.fixture
def secret() -> Iterator[Path]:
    """A file only root may read, in a directory anyone may search."""
    folder = Path(tempfile.mkdtemp(prefix="kubelvs-cli-"))
    folder.chmod(0o755)
    path = folder / "rules.sh"
    path.write_text("ipvsadm -A -t 192.0.2.1:80 -s rr\n")
    path.chmod(0o600)
    yield path
    shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
@pytest.mark.parametrize(
    "argv", [["import", "ipvsadm"], ["validate"], ["export"]], ids=["import", "validate", "export"]
)
def test_an_unreadable_file_is_named(argv: list[str], secret: Path) -> None:
    status, lines = _kubelvs(*argv, str(secret), user="65534")
    assert status == 2
    assert lines == [f"kubelvs {argv[0]}: {secret}: Permission denied"]


def test_verbose_shows_the_traceback_instead(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "kubelvs.cli", "-v", "validate", str(tmp_path / "nope.yaml")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1  # Python's own status for an uncaught exception
    assert "Traceback" in done.stderr and "FileNotFoundError" in done.stderr
