"""``pip install kube-lvs`` then ``kubelvs demo``: without the demo extra it says exactly what to install
(``pip install 'kube-lvs[demo]'``, and the Debian packages for missing host programs) and exits 2 before
booting anything. The run without the extra is a real Python without site-packages (``-S``), kube-lvs's source
on its path: the demo's packages are simply not there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from kubelvs.commands import demo

OPERATOR = Path(demo.__file__).resolve().parents[2]  # the source root, where kubelvs/ is


def _demo_without_site_packages(path: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(OPERATOR), "PATH": path, "HOME": os.environ.get("HOME", "/")}
    command = [sys.executable, "-S", "-m", "kubelvs.cli", "demo"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False, cwd="/")


def test_without_the_extra_it_names_the_pip_command() -> None:
    done = _demo_without_site_packages(os.environ["PATH"])
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if "pip" in line]
    assert line == "kubelvs demo: needs virtme-ng, kmock (the demo extra): pip install 'kube-lvs[demo]'"


def test_without_qemu_it_names_the_debian_packages(tmp_path: Path) -> None:
    done = _demo_without_site_packages(str(tmp_path))  # a PATH with no program at all
    assert done.returncode == 2
    assert done.stderr.splitlines()[1] == (
        "kubelvs demo: needs qemu-system-x86_64, busybox: apt-get install qemu-system-x86 busybox-static "
        "linux-image-amd64"
    )


def test_the_extra_lists_what_the_check_looks_for() -> None:
    import tomllib

    pyproject = tomllib.loads((OPERATOR.parent / "pyproject.toml").read_text())
    extra = {
        requirement.split(">")[0].split("=")[0]
        for requirement in pyproject["project"]["optional-dependencies"]["demo"]
    }
    assert extra == {package for _, package in demo.DEMO_PACKAGES}


def test_this_test_bed_has_everything_the_demo_needs() -> None:
    assert demo.missing_tools() == []


def test_installed_from_a_wheel_it_says_to_run_from_a_checkout(tmp_path: Path) -> None:
    wheels, site, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    source.mkdir()
    for part in ("pyproject.toml", "README.md"):  # a copy: a build writes into its source tree
        shutil.copy(OPERATOR.parent / part, source / part)
    shutil.copytree(OPERATOR, source / "operator", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)]
    subprocess.run(build, check=True, timeout=600, capture_output=True)  # setuptools from the package index
    [wheel] = wheels.glob("kube_lvs-*.whl")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, timeout=300, capture_output=True)
    # the installed package, with this venv's libraries (the extra's included) behind it
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-m", "kubelvs.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [f"kubelvs demo: runs from a source checkout (it starts what the Helm "
                                        f"chart renders): {demo.CHECKOUT_STEPS}"]  # fmt: skip
