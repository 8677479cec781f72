"""What ipvsadm (libipvs, an independent reader) says about a namespace's IPVS table, as token lists."""

from __future__ import annotations

import subprocess

from netns import Namespace

from kubelvs.netstate import Family, Proto, ServiceKey

PROTO_SWITCH = {Proto.TCP: "-t", Proto.UDP: "-u", Proto.SCTP: "--sctp-service"}


def rules(ns: Namespace) -> list[list[str]]:
    """``ipvsadm -Sn`` of ``ns``, one token list per line."""
    return [line.split() for line in ns.exec("ipvsadm", "-Sn").stdout.splitlines() if line.strip()]


def service_name(key: ServiceKey) -> list[str]:
    """How ipvsadm -S names a service: ``-t 192.0.2.1:80``, ``-f 7``."""
    if key.fwmark:
        return ["-f", str(key.fwmark)]
    host = f"[{key.address}]" if key.family == Family.INET6 else key.address
    return [PROTO_SWITCH[key.protocol], f"{host}:{key.port}"]


def service_line(lines: list[list[str]], key: ServiceKey) -> list[str]:
    wanted = ["-A", *service_name(key)]
    found = [line for line in lines if line[: len(wanted)] == wanted]
    assert len(found) == 1, f"{' '.join(wanted)} in {lines}"
    return found[0]


def dest_line(lines: list[list[str]], key: ServiceKey, address: str, port: int) -> list[str]:
    host = f"[{address}]" if ":" in address else address
    wanted = ["-a", *service_name(key), "-r", f"{host}:{port}"]
    found = [line for line in lines if line[: len(wanted)] == wanted]
    assert len(found) == 1, f"{' '.join(wanted)} in {lines}"
    return found[0]


def option(line: list[str], flag: str) -> str | None:
    """The value after ``flag`` in a rule line, or None when the flag is absent."""
    return line[line.index(flag) + 1] if flag in line else None


def ipvsadm_in(ns: str, *args: str, stdin: str = "") -> str:
    """``ipvsadm ARGS`` run in network namespace ``ns``: its output; any failure fails the test."""
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "ipvsadm", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"ipvsadm {' '.join(args)}: {done.stderr}"
    return done.stdout
