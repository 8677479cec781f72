"""Network namespaces in the VM: the one builder of the demo, the full stack, the kernel tests and the benchmarks.

Runs inside the test VM only (root, a disposable kernel). Process start-up is what costs under TCG, so a
:class:`Builder` collects ``ip`` commands and runs one ``ip -batch`` for the bridges' namespace and one per
namespace. Bridges live in the VM's root namespace or in a ``switch`` namespace of their own; every link is a
veth from a bridge into a namespace. :func:`inside` moves the calling thread into a namespace for a block
(sockets it opens there stay there); :func:`enter` moves a whole single-threaded process for good.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def run(
    argv: Sequence[str], *, check: bool = True, timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; a failure raises with the command's stderr in the message."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False, input=input)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(argv)} -> exit {done.returncode}: {done.stderr.strip()}")
    return done


def netns_exec(
    netns: str, *argv: str, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``ip netns exec NETNS argv...``."""
    return run(["ip", "netns", "exec", netns, *argv], check=check, timeout=timeout)


@dataclass
class Builder:
    """Namespaces, bridges and veth links declared first, created by :meth:`apply`, removed by :meth:`remove`.

    ``switch``: the namespace the bridges live in (declare it with :meth:`namespace`); None: the root namespace.
    """

    switch: str | None = None
    namespaces: list[str] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)
    root_lines: list[str] = field(default_factory=list)
    lines: dict[str, list[str]] = field(default_factory=dict)
    sysctls: dict[str, list[str]] = field(default_factory=dict)

    def namespace(self, name: str, *sysctls: str) -> None:
        """A namespace with ``lo`` up and ``sysctls`` (``net.ipv4.ip_forward=1``) set."""
        self.namespaces.append(name)
        self.lines[name] = ["link set lo up"]
        self.sysctls[name] = list(sysctls)

    def bridge(self, name: str, *cidrs: str) -> None:
        """A bridge in the switch's namespace (no STP, no forwarding delay), with ``cidrs`` on it."""
        self.bridges.append(name)
        self.root_lines += [f"link add {name} type bridge forward_delay 0 stp_state 0", f"link set {name} up"]
        self.root_lines += [_address_line(cidr, name) for cidr in cidrs]

    def plug(self, bridge: str, netns: str, device: str, *cidrs: str) -> None:
        """A veth from ``bridge`` to ``netns:device``, up, with ``cidrs`` (IPv6 ones without DAD) on the
        namespace's end."""
        port = f"{netns[:8]}-{device}"[:15]
        self.root_lines += [
            f"link add {port} type veth peer name {device} netns {netns}",
            f"link set {port} master {bridge}",
            f"link set {port} up",
        ]
        self.lines[netns] += [f"link set {device} up", *(_address_line(cidr, device) for cidr in cidrs)]

    def line(self, netns: str, command: str) -> None:
        """Any ``ip`` command (without ``ip``) for ``netns``, e.g. ``route add default via 192.0.2.254``."""
        self.lines[netns].append(command)

    def apply(self) -> None:
        run(["ip", "-batch", "-"], input="".join(f"netns add {name}\n" for name in self.namespaces))
        switch = ["-n", self.switch] if self.switch else []
        run(["ip", *switch, "-batch", "-"], input="\n".join(self.root_lines) + "\n")
        for name in self.namespaces:
            run(["ip", "-n", name, "-batch", "-"], input="\n".join(self.lines[name]) + "\n")
            if self.sysctls[name]:
                netns_exec(name, "sysctl", "-qw", *self.sysctls[name])

    def remove(self) -> None:
        for name in reversed(self.namespaces):
            run(["ip", "netns", "del", name], check=False)
        if self.switch is None:  # a switch namespace takes its bridges with it
            for bridge in self.bridges:
                run(["ip", "link", "del", bridge], check=False)


def _address_line(cidr: str, device: str) -> str:
    return f"addr add {cidr} dev {device}" + (" nodad" if ":" in cidr else "")


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns into {what}: {os.strerror(error)}")


def enter(netns: str) -> None:
    """Move the calling thread (a single-threaded process: all of it) into ``netns`` for good."""
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        _setns(fd, netns)
    finally:
        os.close(fd)


@contextlib.contextmanager
def inside(netns: str) -> Iterator[None]:
    """Run the block with the calling thread in ``netns``, then switch back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        enter(netns)
        try:
            yield
        finally:
            _setns(home, "the thread's own namespace")
    finally:
        os.close(home)
