"""What the API server would say about one object, judged from the generated CRD alone.

It follows the API server's order for custom resources: unknown fields (pruned, or rejected under strict
field validation), then defaulting, then the OpenAPI schema (jsonschema), ``x-kubernetes-list-type: set``
uniqueness, and the ``x-kubernetes-validations`` CEL rules (cel-python). It is an emulation: it cannot
prove how the real API server estimates CEL cost, nor which CEL extensions a given cluster version has.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

import celpy
import jsonschema

from kubelvs.api import crd

Error = tuple[str, str]


def schema_of(kind: str) -> dict[str, Any]:
    return _schemas()[kind]


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {c["spec"]["names"]["kind"]: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for c in crd.crds()}


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def unknown_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[Error]:
    """Fields the API server would prune (and reject with kubectl's default strict field validation)."""
    errors: list[Error] = []
    if isinstance(value, dict) and schema.get("type") == "object":
        properties = schema.get("properties")
        for key, item in value.items():
            if properties is not None and key in properties:
                errors += unknown_fields(item, properties[key], _join(path, key))
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += unknown_fields(item, schema["additionalProperties"], _join(path, key))
            elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append((_join(path, key), f'field not declared in schema: "{key}"'))
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += unknown_fields(item, schema["items"], _join(path, index))
    return errors


def with_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """A copy of value with the schema's defaults filled in, as the API server does before validating."""
    value = copy.deepcopy(value)
    _default(value, schema)
    return value


def _default(value: Any, schema: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _default(value[key], sub)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _default(item, schema["items"])


def schema_errors(value: Any, schema: dict[str, Any]) -> list[Error]:
    validator = jsonschema.Draft4Validator(schema)
    errors = []
    for error in validator.iter_errors(value):
        path = ""
        for key in error.absolute_path:
            path = _join(path, key)
        if error.validator == "required":  # jsonschema reports the parent; the API server names the field
            missing = re.search(r"'([^']+)' is a required property", error.message)
            path = _join(path, missing.group(1)) if missing else path
        errors.append((path, error.message))
    return errors


def set_errors(value: Any, schema: dict[str, Any], path: str = "") -> list[Error]:
    errors: list[Error] = []
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += set_errors(value[key], sub, _join(path, key))
    elif isinstance(value, list):
        if schema.get("x-kubernetes-list-type") == "set":
            for index, item in enumerate(value):
                if item in value[:index]:
                    errors.append((_join(path, index), f"Duplicate value: {item!r}"))
        for index, item in enumerate(value):
            errors += set_errors(item, schema.get("items", {}), _join(path, index))
    return errors


@functools.cache
def _program(rule: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def cel_errors(value: Any, schema: dict[str, Any], path: str = "") -> list[Error]:
    """Every x-kubernetes-validations rule that does not hold, at its fieldPath."""
    errors: list[Error] = []
    for rule in schema.get("x-kubernetes-validations", []):
        try:
            holds = _program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        except celpy.CELEvalError as error:
            holds = False
            rule = {**rule, "message": f"{rule['message']} (CEL error: {error})"}
        if not (isinstance(holds, celpy.celtypes.BoolType) and bool(holds)):
            errors.append((path + rule.get("fieldPath", ""), rule["message"]))
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += cel_errors(value[key], sub, _join(path, key))
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += cel_errors(item, schema["items"], _join(path, index))
    return errors


def admission_errors(obj: dict[str, Any]) -> list[Error]:
    """All the errors the API server would return for a create of obj, from the CRD's schema alone."""
    schema = schema_of(obj["kind"])
    errors = unknown_fields(obj, schema)
    if errors:
        return errors
    defaulted = with_defaults(obj, schema)
    errors = schema_errors(defaulted, schema)
    if errors:  # the API server still runs CEL on well-typed nodes; typed nodes are all the tests need
        return errors
    return set_errors(defaulted, schema) + cel_errors(defaulted, schema)
