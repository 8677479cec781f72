"""``kubelvs``: one entry point; each subcommand lives in its own module under ``kubelvs.commands``.

Subcommand modules are imported only when chosen, so ``kubelvs validate`` never loads kopf or pyroute2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubelvs", description="Declarative LVS/IPVS load balancers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
            command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if a in COMMANDS), None)
    args = build_parser(only=chosen).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
