"""``kubelvs import ipvsadm|keepalived|metallb FILE``: turn existing LVS configuration (or MetalLB's
IPAddressPools) into CR YAML.

The YAML goes to stdout; every note (what was dropped, assumed or rejected, with its line) goes to
stderr. Exit 0 if anything was imported, 1 if nothing was (the input had errors only, or no rules, or was an
``ipvsadm -L`` listing: one line says to use ``ipvsadm -Sn``), 2 for a file that cannot be read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kubelvs.formats import ipvsadm, keepalived, manifests, metallb, tables
from kubelvs.formats.manifests import Document
from kubelvs.formats.notes import Note

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, help_text in (
        ("ipvsadm", "ipvsadm -S / -Sn output, or a shell script of ipvsadm commands"),
        ("keepalived", "a keepalived.conf (virtual_server, real_server, checkers, vrrp_instance)"),
        ("metallb", "MetalLB IPAddressPool objects (YAML), as VIPPools"),
    ):
        command = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=parser.formatter_class
        )
        command.add_argument("file", metavar="FILE", help="the file to read; - for stdin")
        command.add_argument("--namespace", default="default", help="namespace of the generated objects")


def _read(name: str) -> bytes:
    """Bytes, so that a bad byte is the importer's finding (with its line), never a decode traceback."""
    return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()


def convert(fmt: str, text: str | bytes, source: str, namespace: str) -> tuple[list[Document], list[Note]]:
    """The objects and notes of one input text."""
    if fmt == "ipvsadm":
        table = ipvsadm.parse(text)
        documents, notes = tables.to_documents(table.services, table.destinations, table.lines, namespace, source)
        return documents, table.notes + notes
    result = keepalived.convert(text, source, namespace)
    return result.documents, result.notes


def run(args: argparse.Namespace) -> int:
    source = "<stdin>" if args.file == "-" else args.file
    text = _read(args.file)  # a missing or unreadable file: the CLI's handler names it (exit 2)
    if args.format == "ipvsadm":
        listed = ipvsadm.parse(text).listing
        if listed is not None:  # the usual slip: ipvsadm -Ln piped in for ipvsadm -Sn
            print(f"{source}:{listed}: error: nothing imported: {ipvsadm.LISTING_REFUSED}", file=sys.stderr)
            return 1
    if args.format == "metallb":
        converted = metallb.convert(text)
        notes, output = converted.notes, manifests.render_bodies(converted.pools)
    else:
        documents, notes = convert(args.format, text, source, args.namespace)
        output = manifests.render(documents)
    for note in sorted(notes, key=lambda n: n.line):
        print(note.format(source), file=sys.stderr)
    if not output:
        print(f"{source}: nothing imported", file=sys.stderr)
        return 1
    sys.stdout.write(output)
    return 0
