"""The VM runner's pure parts: which kernel it boots, the virtme-ng command line, the guest's pytest."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from kubelvs.testbed import vm
from kubelvs.testbed.__main__ import pytest_argv


def _kernel(boot: Path, modules: Path, version: str, *, ipvs: bool, suffix: str = ".ko") -> None:
    (boot / f"vmlinuz-{version}").write_text("")
    ipvs_dir = modules / version / "kernel/net/netfilter/ipvs"
    ipvs_dir.mkdir(parents=True)
    if ipvs:
        (ipvs_dir / f"ip_vs{suffix}").write_text("")


@pytest.mark.parametrize(
    ("kernels", "expected"),
    [
        pytest.param([("6.1.0-56-amd64", True)], "6.1.0-56-amd64", id="only-one"),
        pytest.param([("6.1.0-9-amd64", True), ("6.1.0-56-amd64", True)], "6.1.0-56-amd64", id="numeric-order"),
        pytest.param([("6.1.0-56-amd64", True), ("6.12.0-1-amd64", False)], "6.1.0-56-amd64", id="newer-no-ipvs"),
        pytest.param([("5.10.0-30-amd64", True), ("6.10.0-1-amd64", True)], "6.10.0-1-amd64", id="major-minor"),
    ],
)
def test_newest_kernel_with_ipvs_modules_is_chosen(tmp_path, kernels, expected):
    boot, modules = tmp_path / "boot", tmp_path / "modules"
    boot.mkdir()
    for version, ipvs in kernels:
        _kernel(boot, modules, version, ipvs=ipvs)
    assert vm.find_kernel(boot, modules) == expected


def test_compressed_ipvs_module_counts(tmp_path):
    boot, modules = tmp_path / "boot", tmp_path / "modules"
    boot.mkdir()
    _kernel(boot, modules, "6.8.0-1", ipvs=True, suffix=".ko.zst")
    assert vm.find_kernel(boot, modules) == "6.8.0-1"


def test_no_kernel_with_ipvs_is_a_clear_error(tmp_path):
    boot, modules = tmp_path / "boot", tmp_path / "modules"
    boot.mkdir()
    _kernel(boot, modules, "6.1.0-1", ipvs=False)
    with pytest.raises(FileNotFoundError, match=r"no kernel in .* has IPVS modules"):
        vm.find_kernel(boot, modules)


def _spec(**changes) -> vm.VmSpec:
    base = {"argv": ["pytest", "-x"], "rwdir": Path("/tmp/out"), "cwd": Path("/repo"), "kernel": "6.1.0-56-amd64"}
    return vm.VmSpec(**{**base, **changes})


@pytest.mark.parametrize(
    ("kvm", "disabled"),
    [pytest.param(False, True, id="tcg-by-default"), pytest.param(True, False, id="kvm-when-asked")],
)
def test_kvm_switch(kvm, disabled):
    command = vm.vng_command(_spec(kvm=kvm), Path("/venv/bin/vng"))
    assert ("--disable-kvm" in command) is disabled


@pytest.mark.parametrize(
    ("environ", "kvm"),
    [
        pytest.param({}, False, id="unset"),
        pytest.param({"KUBELVS_VM_KVM": "1"}, True, id="one"),
        pytest.param({"KUBELVS_VM_KVM": "0"}, False, id="zero"),
    ],
)
def test_kvm_comes_from_the_environment(environ, kvm):
    assert vm.kvm_enabled(environ) is kvm


def test_command_line_boots_the_kernel_over_9p_as_root_with_rwdir():
    command = vm.vng_command(_spec(memory="2G", cpus=3), Path("/venv/bin/vng"))
    assert command[:3] == ["/venv/bin/vng", "--run", "/boot/vmlinuz-6.1.0-56-amd64"]
    pairs = {
        flag: command[command.index(flag) + 1] for flag in ("--memory", "--cpus", "--user", "--rwdir", "--cwd")
    }
    assert pairs["--memory"] == "2G"
    assert pairs["--cpus"] == "3"
    assert pairs["--user"] == "root"
    assert pairs["--rwdir"] == "/tmp/out"
    assert pairs["--cwd"] == "/repo"
    assert "--force-9p" in command
    assert command[-2] == "--exec"


def test_bootstrap_loads_every_scheduler_sets_env_and_records_status():
    script = vm.bootstrap_script(_spec(argv=["echo", "a b"], env={"X": "it's"}))
    for scheduler in ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"):
        assert f"ip_vs_{scheduler}" in script.split()
    assert "KUBELVS_IN_VM=1" in script
    assert "X=" + shlex.quote("it's") in script
    assert "echo 'a b'" in script
    assert "/tmp/out/.guest-exit-status" in script


def test_guest_status_file_is_the_result(tmp_path):
    assert vm.read_status(tmp_path) == vm.NO_STATUS
    (tmp_path / vm.STATUS_FILE).write_text("3\n")
    assert vm.read_status(tmp_path) == 3


def test_guest_pytest_runs_only_kernel_tests_with_junit_into_rwdir():
    argv = pytest_argv(["-x", "-k", "ipvs"], Path("/tmp/out"))
    assert argv[0].endswith("/pytest")
    assert argv[1:3] == ["-m", "kernel"]
    assert "--junitxml=/tmp/out/junit.xml" in argv
    assert argv[-4:] == ["tests/kernel", "-x", "-k", "ipvs"]


def test_guest_pytest_runs_only_the_named_tests_when_given(tmp_path):
    (tmp_path / "tests/kernel").mkdir(parents=True)
    (tmp_path / "tests/kernel/test_a.py").write_text("")
    argv = pytest_argv(["tests/kernel/test_a.py::test_b", "-x"], Path("/tmp/out"), root=tmp_path)
    assert "tests/kernel" not in argv
    assert argv[-2:] == ["tests/kernel/test_a.py::test_b", "-x"]
