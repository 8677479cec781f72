# PYTHON_ARGCOMPLETE_OK
"""``kubelvs``: one entry point; each subcommand lives in its own module under ``kubelvs.commands``.

Subcommand modules are imported only when chosen, so ``kubelvs validate`` never loads kopf or pyroute2; shell
completion (argcomplete) chooses the same way from the line being completed. The common failures (no ip_vs, no
privilege, no cluster credentials, a missing file) end in one line on stderr and ipvsadm's exit codes, from the
one handler here (:func:`failure`); ``--verbose`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from importlib import metadata

from kubelvs import API_VERSION

DISTRIBUTION = "kube-lvs"
# ipvsadm's exit codes (ipvsadm.c: fail(2, ...) for bad usage and "Can't initialize ipvs", exit(1) when a listing
# fails): kubelvs keeps the meaning of each
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_START = 2
EPILOG = """\
exit status (as ipvsadm's):
  0  done
  1  the command ran and failed: invalid manifests, nothing to import (an ipvsadm -L listing for rules),
     a read the kernel refused
  2  it could not start: bad usage, a missing file, no ip_vs module, no privilege, no cluster credentials

shell completion: eval "$(register-python-argcomplete kubelvs)"
"""

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("kubelvs.commands.validate", "check manifests offline with the API's own rules"),
    "crds": ("kubelvs.commands.crds", "print or write the CRDs generated from the models"),
    "agent": ("kubelvs.commands.agent", "run the node agent (in-cluster, or --standalone from files)"),
    "operator": ("kubelvs.commands.operator", "run the kopf operator"),
    "import": ("kubelvs.commands.importing", "turn ipvsadm rules or keepalived.conf into CR YAML"),
    "export": ("kubelvs.commands.exporting", "print manifests as the ipvsadm -Sn lines of their state"),
    "status": ("kubelvs.commands.status", "show the live IPVS table and which CR owns each line"),
    "demo": ("kubelvs.commands.demo", "boot a real IPVS kernel and run the whole system in it"),
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where its help already names it or there is nothing to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, "", [], argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def version() -> str:
    """``kube-lvs 0.1.0 (API lvs.kubelvs.io/v1alpha1)``; a checkout run without installing has no version."""
    try:
        installed = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        installed = "(not installed)"
    return f"{DISTRIBUTION} {installed} (API {API_VERSION})"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubelvs",
        description="Declarative LVS/IPVS load balancers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the epilog is laid out by hand
    )
    parser.add_argument("--version", action="version", version=version())
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, and tracebacks of failures")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
        if only is None or name == only:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
            command.set_defaults(run=module.run)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if a in COMMANDS), None)


def _complete() -> None:
    """Answer a shell's completion request (argcomplete's protocol: ``_ARGCOMPLETE`` and ``COMP_LINE`` set).

    argcomplete exits the process once it has answered; without a request this returns at once.
    """
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    line = os.environ.get("COMP_LINE", "")[: int(os.environ.get("COMP_POINT", "0") or 0)]
    try:
        words = shlex.split(line)
    except ValueError:  # an open quote: complete over what splits
        words = line.split()
    argcomplete.autocomplete(build_parser(only=chosen_command(words[1:])))


def _loaded(module: str, name: str) -> tuple[type[Exception], ...]:
    """An exception type of a module already imported (one not imported cannot have raised it)."""
    found = getattr(sys.modules.get(module), name, None)
    return (found,) if isinstance(found, type) and issubclass(found, Exception) else ()


def _failures() -> tuple[type[Exception], ...]:
    """What :func:`failure` explains; evaluated as an ``except`` clause is matched, after the failure."""
    return (OSError, *_loaded("kubernetes.config.config_exception", "ConfigException"))


def failure(error: Exception, command: str) -> tuple[int, str]:
    """The exit status and the one line for one of :func:`_failures`."""
    if not isinstance(error, OSError):  # kubernetes' ConfigException
        hint = "set KUBECONFIG or run in a pod" + ("; --standalone for files" if command == "agent" else "")
        return EXIT_CANNOT_START, f"no cluster credentials ({error}): {hint}"
    if isinstance(error, _loaded("kubelvs.kernel.ipvs", "IpvsUnavailable")):
        return EXIT_CANNOT_START, f"{error.strerror}: load it with `modprobe ip_vs`"
    if error.filename is not None:
        return EXIT_CANNOT_START, f"{error.filename}: {error.strerror or error}"
    if error.errno in (errno.EPERM, errno.EACCES):
        return EXIT_CANNOT_START, f"{error.strerror or error}: run as root or with CAP_NET_ADMIN"
    return EXIT_FAILED, str(error.strerror or error)


def main(argv: Sequence[str] | None = None) -> int:
    _complete()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(only=chosen_command(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result: int = args.run(args)
    except _failures() as error:
        if args.verbose:
            raise
        status, message = failure(error, args.command)
        print(f"kubelvs {args.command}: {message}", file=sys.stderr)
        return status
    return result


if __name__ == "__main__":
    sys.exit(main())
