"""The operator tests' Kubernetes API: the package's emulator (kubelvs.testbed.apiserver), re-exported.

One emulator implementation serves the operator tests, the election tests, the full-stack tests and the demo;
see :mod:`kubelvs.testbed.apiserver` for what it does beyond kmock's.
"""

from __future__ import annotations

from kubelvs.testbed.apiserver import (
    ALL_VERBS,
    GROUP,
    VERSION,
    ApiError,
    Client,
    Emulator,
    Served,
    path_of,
    register,
    register_backbone,
    register_kubelvs,
    resource,
    serve,
    wait_for,
    write_kubeconfig,
)

__all__ = [
    "ALL_VERBS",
    "GROUP",
    "VERSION",
    "ApiError",
    "Client",
    "Emulator",
    "Served",
    "path_of",
    "register",
    "register_backbone",
    "register_kubelvs",
    "resource",
    "serve",
    "wait_for",
    "write_kubeconfig",
]
