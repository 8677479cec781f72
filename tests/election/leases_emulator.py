"""The election tests' Kubernetes API: the package's emulator (kubelvs.testbed.apiserver), strict about Leases.

Lease writes are checked the way the API server checks them (409 on a stale resourceVersion or an existing
name, 404 on a missing one); ``partitioned`` and ``interlopers`` inject outages and lost races. One emulator
implementation serves these tests, the operator tests, the full-stack tests and the demo.
"""

from __future__ import annotations

from kubelvs.testbed.apiserver import LEASES, Emulator, Interloper

LeaseEmulator = Emulator

__all__ = ["LEASES", "Interloper", "LeaseEmulator"]
