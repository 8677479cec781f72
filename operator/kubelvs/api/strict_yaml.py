"""The one YAML reader of manifests: what kubectl's strict decoding accepts, with bounded work.

PyYAML does the parsing (libyaml's loader when PyYAML was built with it: the pure-Python one dominated
loading large sets); a SafeLoader subclass adds what kubectl has and PyYAML lacks:

- a key twice in one mapping is an error naming the key and both lines (kubectl: ``mapping key "port"
  already defined``); a ``<<`` merge key may still be overridden, as YAML's merge means;
- aliases may add at most :data:`ALIAS_LIMIT` nodes to a document and never refer to themselves: the
  size is reckoned on the parsed node graph, where an alias is one shared node, so a "billion laughs"
  bomb is refused before anything expands it (pydantic, a repr, a JSON dump would);
- timestamps stay strings, as in kubectl (go-yaml hands them to JSON as text), and an integer longer than
  :data:`INTEGER_DIGITS` is refused before Python's ``int()`` is asked to build it;
- input is UTF-8 bytes (a byte-order mark is dropped), and a byte that is not UTF-8 or a character YAML
  does not allow is named with its line and column.

Errors are :class:`DocumentError` with the line numbered in the file (``first_line`` for a piece of one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kubelvs.api.problems import shown

ALIAS_LIMIT = 100_000  # nodes aliases may add to one document: far above any manifest's anchors
INTEGER_DIGITS = 100  # every integer of the API fits in 64 bits (20 digits); room for 0b... and 1_000
MERGE = "tag:yaml.org,2002:merge"
# What YAML 1.1 allows in a stream (PyYAML's Reader.NON_PRINTABLE): tab, LF, CR, printable, NEL, ...
_NOT_ALLOWED = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class DocumentError(ValueError):
    """A document that cannot be read: the line (in the file) and why."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"line {line}, column {column}: {message}" if line else message)
        self.line = line
        self.column = column
        self.message = message


_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE):  # type: ignore[valid-type,misc]  # CSafeLoader is chosen at run time
    def __init__(self, text: str, first_line: int) -> None:
        super().__init__(text)
        self.first_line = first_line

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark)
            except TypeError:
                continue  # an unhashable key: SafeConstructor refuses it with its own message
            if first is not key_node.start_mark:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {shown(key)} (first at line {first.line + self.first_line}): "
                    "a key may appear once in a mapping",
                    key_node.start_mark,
                )
        mapping: dict[Any, Any] = SafeConstructor.construct_mapping(self, node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: ScalarNode) -> int:
        if len(str(node.value)) > INTEGER_DIGITS:
            raise ConstructorError(
                None, None, f"an integer of {len(node.value)} characters: no field takes one", node.start_mark
            )
        value: int = SafeConstructor.construct_yaml_int(self, node)
        return value

    def construct_document(self, node: Node) -> Any:
        _check_aliases(node)
        return SafeConstructor.construct_document(self, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)


def _construct_set(loader: _Loader, node: MappingNode) -> dict[Any, None]:
    """A ``!!set`` is the mapping of its members to null, as go-yaml hands it to JSON: not a list."""
    return dict.fromkeys(loader.construct_mapping(node))


_Loader.add_constructor("tag:yaml.org,2002:set", _construct_set)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _check_aliases(root: Node) -> None:
    """Refuse a document whose aliases would expand it by more than ALIAS_LIMIT nodes, or that holds
    itself. Sizes are summed over the node graph, each distinct node once: the walk costs the document's
    own size, however large the expansion would be."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        ident = id(node)
        if children_done:
            sizes[ident] = 1 + sum(sizes[id(child)] for child in _children(node))
            open_nodes.discard(ident)
        elif ident in open_nodes:
            raise ConstructorError(
                None, None, "an alias refers to a node that holds it: a recursive structure", node.start_mark
            )
        elif ident not in sizes:
            open_nodes.add(ident)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
    added = sizes[id(root)] - len(sizes)
    if added > ALIAS_LIMIT:
        raise ConstructorError(
            None,
            None,
            f"aliases would expand this document by more than {ALIAS_LIMIT:,} nodes (an alias bomb?); "
            "refused unexpanded",
            root.start_mark,
        )


def decode(data: bytes) -> str:
    """UTF-8 bytes as text; a byte-order mark is dropped, anything else not UTF-8 is a DocumentError."""
    if data.startswith(_OTHER_BOMS):  # the API server's JSON is UTF-8, and so is what kubectl sends it
        raise DocumentError(1, 1, "a UTF-16 or UTF-32 byte-order mark: manifests are UTF-8 (convert with iconv)")
    data = data.removeprefix(b"\xef\xbb\xbf")
    if data.startswith(b"\xef\xbb\xbf"):  # readers disagree on it: libyaml drops it, PyYAML keeps it in a key
        raise DocumentError(1, 1, "a second byte-order mark: a manifest starts with at most one")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[start : error.start].decode("utf-8", "replace")) + 1
        raise DocumentError(
            line,
            column,
            f"byte 0x{data[error.start]:02x} is not UTF-8 (convert the file to UTF-8, e.g. with iconv)",
        ) from None


def _where(text: str, offset: int, first_line: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return first_line + text.count("\n", 0, offset), offset - line_start + 1


def load_documents(data: bytes | str, first_line: int = 1) -> Iterator[Any]:
    """Every document of ``data`` in order (``None`` for an empty one); the first that cannot be read raises
    :class:`DocumentError`, after the documents before it were yielded, as YAML's reading goes."""
    text = decode(data) if isinstance(data, bytes) else data
    bad = _NOT_ALLOWED.search(text)
    if bad is not None:
        line, column = _where(text, bad.start(), first_line)
        raise DocumentError(
            line, column, f"character U+{ord(bad.group()):04X} is not allowed in YAML (binary input?)"
        )
    loader = _Loader(text, first_line)
    try:
        while loader.check_data():
            yield loader.get_data()
    except yaml.MarkedYAMLError as error:
        raise _located(error, first_line) from None
    except yaml.YAMLError as error:
        raise DocumentError(0, 0, str(error)) from None
    except (ValueError, RecursionError) as error:  # a constructor's own (e.g. a date out of range)
        raise DocumentError(0, 0, f"cannot be read: {error}") from None
    finally:
        loader.dispose()


def _located(error: yaml.MarkedYAMLError, first_line: int) -> DocumentError:
    mark = error.problem_mark or error.context_mark
    parts = [part for part in (error.context, error.problem) if part]
    if error.context_mark is not None and error.problem_mark is not None and error.context:
        parts[0] = f"{error.context} (line {error.context_mark.line + first_line})"
    message = "; ".join(parts) or "not valid YAML"
    if mark is None:
        return DocumentError(0, 0, message)
    return DocumentError(mark.line + first_line, mark.column + 1, message)
