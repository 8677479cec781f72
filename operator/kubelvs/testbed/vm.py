"""Boot Debian's kernel under virtme-ng and run one command inside it as root.

The guest shares this machine's root filesystem read-only over 9p, so it sees the same venv and repo at the same
paths. Its ``/`` is read-only and its ``/tmp`` writes vanish at power-off: results come back through ``rwdir``.
A small shell bootstrap loads the kernel modules the product needs, sets ``KUBELVS_IN_VM=1`` and runs the command;
its exit status is written to ``rwdir`` too, so a guest that dies half-way is a failure, never a pass.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# Everything kube-lvs touches: IPVS with every scheduler, the tunnel and test-topology devices, nftables NAT.
MODULES: tuple[str, ...] = (
    "ip_vs",
    *(
        f"ip_vs_{s}"
        for s in ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh")
    ),
    "ipip",
    "ip6_tunnel",
    "dummy",
    "veth",
    "bridge",
    "sctp",
    "nf_conntrack",
    "nf_nat",
    "nf_tables",
    "nft_chain_nat",
    "nft_nat",
    "nft_masq",
    "nft_ct",
)

STATUS_FILE = ".guest-exit-status"
NO_STATUS = 125  # what we return when the guest never reported one (crash, panic, timeout)
DEFAULT_MEMORY = "1G"
DEFAULT_CPUS = 2
DEFAULT_TIMEOUT = 3600.0


def find_kernel(boot: Path = Path("/boot"), modules: Path = Path("/lib/modules")) -> str:
    """The newest kernel version with a ``/boot/vmlinuz-<ver>`` whose modules include ``ip_vs``."""
    found = []
    for image in boot.glob("vmlinuz-*"):
        version = image.name.removeprefix("vmlinuz-")
        if any((modules / version).glob("kernel/net/netfilter/ipvs/ip_vs.ko*")):
            found.append(version)
    if not found:
        raise FileNotFoundError(
            f"no kernel in {boot} has IPVS modules under {modules}/<version>/kernel/net/netfilter/ipvs/; "
            "install one, e.g. `apt-get install linux-image-amd64`"
        )
    return max(found, key=_version_key)


def _version_key(version: str) -> list[tuple[int, str]]:
    # "6.1.0-56-amd64" sorts numerically part by part, like `sort -V`
    return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-+~]", version)]


@dataclass(frozen=True)
class VmSpec:
    """How to boot the guest and what to run in it."""

    argv: Sequence[str]
    rwdir: Path
    cwd: Path
    kernel: str
    memory: str = DEFAULT_MEMORY
    cpus: int = DEFAULT_CPUS
    kvm: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    boot: Path = Path("/boot")


def bootstrap_script(spec: VmSpec) -> str:
    """The shell line the guest runs: load modules, export env, run argv, record its exit status."""
    env = {"KUBELVS_IN_VM": "1", "PYTHONDONTWRITEBYTECODE": "1", **spec.env}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    status = shlex.quote(str(spec.rwdir / STATUS_FILE))
    return (
        f"modprobe -a {' '.join(MODULES)} || echo 'kubelvs.testbed: some modules did not load' >&2; "
        "ip link set lo up; "
        f"cd {shlex.quote(str(spec.cwd))} && export {exports} && {shlex.join(spec.argv)}; "
        f"rc=$?; echo $rc > {status}; exit $rc"
    )


def vng_command(spec: VmSpec, vng: Path) -> list[str]:
    """The virtme-ng command line for ``spec`` (pure, so it is tested on the host)."""
    command = [
        str(vng),
        "--run",
        str(spec.boot / f"vmlinuz-{spec.kernel}"),
        "--force-9p",
        "--memory",
        spec.memory,
        "--cpus",
        str(spec.cpus),
        "--user",
        "root",
        "--rwdir",
        str(spec.rwdir),
        "--cwd",
        str(spec.cwd),
    ]
    if not spec.kvm:
        command.append("--disable-kvm")  # KVM hangs on some hosts; TCG always works, only slower
    command += ["--exec", bootstrap_script(spec)]
    return command


def kvm_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get("KUBELVS_VM_KVM", "") == "1"


def venv_bin() -> Path:
    """bin/ of the running venv, where vng and pytest live (not resolved: a venv python is a symlink)."""
    return Path(sys.executable).parent


def run_in_vm(
    argv: Sequence[str],
    *,
    rwdir: Path | None = None,
    memory: str | None = None,
    cpus: int = DEFAULT_CPUS,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Run ``argv`` as root in a fresh guest, streaming its output; return its exit status.

    ``rwdir`` is shared read-write (the one place the guest can leave files for the host); a temporary one is
    made when none is given. Returns 125 when the guest never reported a status (panic, timeout).
    """
    with tempfile.TemporaryDirectory(prefix="kubelvs-vm-") as scratch:
        shared = (rwdir or Path(scratch)).resolve()
        shared.mkdir(parents=True, exist_ok=True)
        (shared / STATUS_FILE).unlink(missing_ok=True)
        spec = VmSpec(
            argv=list(argv),
            rwdir=shared,
            cwd=(cwd or Path.cwd()).resolve(),
            kernel=find_kernel(),
            memory=memory or os.environ.get("KUBELVS_VM_MEMORY", DEFAULT_MEMORY),
            cpus=cpus,
            kvm=kvm_enabled(os.environ),
            env=dict(env or {}),
        )
        command = vng_command(spec, venv_bin() / "vng")
        logger.info("booting %s (%s) for: %s", spec.kernel, "kvm" if spec.kvm else "tcg", shlex.join(argv))
        # vng finds its helpers (virtme-run) through PATH
        host_env = {**os.environ, "PATH": f"{venv_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}
        # own session, so a timeout stops qemu too and nothing else
        with subprocess.Popen(command, env=host_env, stdin=subprocess.DEVNULL, start_new_session=True) as vm:
            try:
                vm.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.error("the guest did not finish within %.0f s; stopping it", timeout)
                os.killpg(vm.pid, signal.SIGKILL)
                vm.wait()
                return NO_STATUS
        return read_status(shared)


def read_status(rwdir: Path) -> int:
    try:
        return int((rwdir / STATUS_FILE).read_text().strip())
    except (OSError, ValueError):
        logger.error("the guest reported no exit status (kernel panic, out of memory, or killed)")
        return NO_STATUS
