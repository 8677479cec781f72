"""``python -m kubelvs.testbed pytest [PYTEST ARGS...]`` | ``run -- CMD...``: the IPVS VM from the shell.

``python -m kubelvs.testbed apiserver --listen ADDR:PORT --kubeconfig-out PATH`` serves the emulated API server
(:mod:`kubelvs.testbed.apiserver`) in this process instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kubelvs.testbed import vm

logger = logging.getLogger(__name__)

NO_TESTS_COLLECTED = 5


def repo_root() -> Path:
    """The checkout this package runs from (operator/kubelvs/testbed -> repo), where tests/kernel lives."""
    return Path(__file__).resolve().parents[3]


def pytest_argv(extra: Sequence[str], rwdir: Path, root: Path | None = None) -> list[str]:
    """The guest's pytest: kernel tests only, junit into rwdir, no cache writes on the read-only root.

    Runs all of ``tests/kernel`` unless ``extra`` names test paths itself (``tests/kernel/test_x.py::test_y``).
    """
    root = root or repo_root()
    named = [a for a in extra if not a.startswith("-") and (root / a.split("::")[0]).exists()]
    return [
        str(vm.venv_bin() / "pytest"),
        "-m",
        "kernel",
        "-p",
        "no:cacheprovider",
        f"--junitxml={rwdir / 'junit.xml'}",
        "-o",
        "junit_family=xunit1",  # keeps record_property (benchmark figures) in the xml
        *([] if named else ["tests/kernel"]),
        *extra,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kubelvs.testbed",
        description="Run kernel tests or any command in a throw-away VM with a real IPVS kernel "
        "(env: KUBELVS_VM_KVM=1 to use KVM, KUBELVS_VM_MEMORY=1G).",
    )
    parser.add_argument("--rwdir", type=Path, help="host directory the guest can write (results, logs)")
    parser.add_argument("--memory", help=f"guest memory (default {vm.DEFAULT_MEMORY})")
    parser.add_argument("--cpus", type=int, default=vm.DEFAULT_CPUS, help="guest CPUs")
    parser.add_argument(
        "--timeout", type=float, default=vm.DEFAULT_TIMEOUT, help="seconds before the VM is killed"
    )
    parser.add_argument("mode", choices=["pytest", "run"], help="pytest: tests/kernel; run: any command")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="pytest arguments, or -- CMD ARGS...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["apiserver"]:  # the emulated API server runs here, not in a VM (it has flags of its own)
        from kubelvs.testbed import apiserver

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return apiserver.main(given[1:])
    args = build_parser().parse_args(given)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rest = list(args.args)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    # results must outlive the run, so the default is a fresh directory that is not removed
    rwdir = (args.rwdir or Path(tempfile.mkdtemp(prefix="kubelvs-testbed-"))).resolve()
    logger.info("guest results directory: %s", rwdir)
    if args.mode == "run":
        if not rest:
            logger.error("run: give a command, e.g. `python -m kubelvs.testbed run -- ipvsadm -Ln`")
            return 2
        return vm.run_in_vm(rest, rwdir=rwdir, memory=args.memory, cpus=args.cpus, timeout=args.timeout)
    status = vm.run_in_vm(
        pytest_argv(rest, rwdir),
        rwdir=rwdir,
        memory=args.memory,
        cpus=args.cpus,
        timeout=args.timeout,
        cwd=repo_root(),
    )
    if status == NO_TESTS_COLLECTED:
        logger.error("pytest collected no kernel tests in the guest; that is a failure, not a pass")
        return 1
    logger.info("guest pytest exited %d; junit in %s", status, rwdir / "junit.xml")
    return status


if __name__ == "__main__":
    sys.exit(main())
