"""``kubelvs demo``: boot a throw-away VM with a real IPVS kernel and run the whole system in it.

On this machine it only boots the guest (:mod:`kubelvs.testbed.vm`); inside, :mod:`kubelvs.testbed.demo` starts
an emulated API server, the operator, two directors and two backends in network namespaces, applies the
examples, sends traffic, crashes the active director and prints a summary. Nothing touches this machine's
network: every address lives in the guest's namespaces.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 1800.0
# what the demo imports beyond kube-lvs's own dependencies (pyproject's demo extra): module -> distribution
DEMO_PACKAGES = (("virtme_ng", "virtme-ng"), ("kmock", "kmock"))
# what virtme-ng runs on the host, and the Debian packages that bring them and a kernel with IPVS modules
HOST_PROGRAMS = ("qemu-system-x86_64", "busybox")
DEBIAN_PACKAGES = ("qemu-system-x86", "busybox-static", "linux-image-amd64")
# a checkout has the chart (the demo runs the processes with the arguments it renders) and the examples
CHART_FILE = Path("charts") / "kubelvs" / "Chart.yaml"
CHECKOUT_STEPS = (
    "git clone https://github.com/kubelvs/kube-lvs && cd kube-lvs && bash .ci/setup && .venv/bin/kubelvs demo"
)
# diagnosis switches of the guest's stack (kubelvs.testbed.stack), handed on when set here
PASSED_ENV = ("KUBELVS_STACK_DEBUG", "KUBELVS_STACK_EXEC")


def repo_root() -> Path:
    """The checkout this package runs from (operator/kubelvs/commands -> repo), where examples/ lives."""
    return Path(__file__).resolve().parents[3]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=Path, default=None, help="directory of 0*.yaml (default: examples/)")
    parser.add_argument(
        "--logs", type=Path, default=None, help="where the guest leaves its logs (default: a temp dir)"
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds before the VM is stopped")


def missing_tools() -> list[str]:
    """One line per kind of thing this machine lacks for the demo, saying how to install it (none: ready)."""
    lines = []
    if not (repo_root() / CHART_FILE).is_file():  # installed from a wheel: the chart renders the demo's flags
        lines.append(f"runs from a source checkout (it starts what the Helm chart renders): {CHECKOUT_STEPS}")
        return lines  # what a checkout's setup installs is beside the point until there is one
    packages = [package for module, package in DEMO_PACKAGES if importlib.util.find_spec(module) is None]
    if packages:
        lines.append(f"needs {', '.join(packages)} (the demo extra): pip install 'kube-lvs[demo]'")
    programs = [program for program in HOST_PROGRAMS if shutil.which(program) is None]
    if programs:
        lines.append(f"needs {', '.join(programs)}: apt-get install {' '.join(DEBIAN_PACKAGES)}")
    if not packages:  # the test bed's modules import only once its packages are there
        from kubelvs.testbed.chart import HelmMissing, find_helm

        try:
            find_helm()
        except HelmMissing as error:
            lines.append(str(error))
    return lines


def run(args: argparse.Namespace) -> int:
    missing = missing_tools()
    for line in missing:
        print(f"kubelvs demo: {line}", file=sys.stderr)
    if missing:
        return 2
    from kubelvs.testbed import vm

    examples = (args.examples or repo_root() / "examples").resolve()
    if not any(examples.glob("0*.yaml")):
        print(f"kubelvs demo: no examples (0*.yaml) in {examples}", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print(f"kubelvs demo: --timeout must be positive, not {args.timeout}", file=sys.stderr)
        return 2
    try:
        kernel = vm.find_kernel()
    except FileNotFoundError as error:
        print(f"kubelvs demo: {error} (bash .ci/setup installs one)", file=sys.stderr)
        return 2
    logs = (args.logs or Path(tempfile.mkdtemp(prefix="kubelvs-demo-"))).resolve()
    started = time.time()
    mode = "KVM" if vm.kvm_enabled(os.environ) else "TCG, software emulation: a few minutes"
    print(f"[{0:4.0f}s] booting the kernel {kernel} in a VM ({mode}); logs in {logs}", flush=True)
    logging.getLogger("kubelvs.testbed.vm").setLevel(logging.WARNING)  # the progress lines say it
    status = vm.run_in_vm(
        [str(vm.venv_bin() / "python"), "-m", "kubelvs.testbed.demo", str(examples), str(logs / "stack")],
        rwdir=logs,
        timeout=args.timeout,
        env={"KUBELVS_DEMO_T0": repr(started), **{k: os.environ[k] for k in PASSED_ENV if k in os.environ}},
        cwd=repo_root(),
    )
    took = time.time() - started
    verdict = "done" if status == 0 else f"FAILED (exit {status}); logs in {logs}"
    print(f"[{took:4.0f}s] demo {verdict} in {took // 60:.0f} min {took % 60:.0f} s", flush=True)
    return status
