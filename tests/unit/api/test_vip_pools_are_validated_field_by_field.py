"""A VIPPool's every field is checked with its path, value and why: by the model the operator judges with,
and, where the API server can see it, by the CRD's schema and CEL rules."""

from __future__ import annotations

from typing import Any

import crd_admission
import pytest
from pydantic import ValidationError

from kubelvs.api.problems import from_validation_error
from kubelvs.api.vip_pools import VIPPool


def pool(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "lvs.kubelvs.io/v1alpha1",
        "kind": "VIPPool",
        "metadata": {"name": "public"},
        "spec": {"addresses": ["192.0.2.0/26"], **spec},
    }


def problems(body: dict[str, Any]) -> list[str]:
    try:
        VIPPool.model_validate(body, by_alias=True, by_name=False)
    except ValidationError as error:
        return [str(problem) for problem in from_validation_error(error)]
    return []


def test_a_valid_pool_passes_both() -> None:
    body = pool(
        addresses=["192.0.2.0/26", "192.0.2.100-192.0.2.120", "198.51.100.7", "2001:db8::/120"],
        autoAssign=False,
        serviceSelector={"matchLabels": {"tier": "edge"}},
        namespaceSelector={"matchExpressions": [{"key": "lb", "operator": "In", "values": ["yes"]}]},
    )
    assert problems(body) == []
    assert crd_admission.admission_errors(body) == []


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        ({"addresses": ["192.0.2.1/24"]}, "spec.addresses[0]", ("'192.0.2.1/24'", "host bits")),
        ({"addresses": ["192.0.2.9-192.0.2.1"]}, "spec.addresses[0]", ("ends before it starts",)),
        ({"addresses": ["192.0.2.1-2001:db8::1"]}, "spec.addresses[0]", ("mixes IPv4 and IPv6",)),
        ({"addresses": ["pool-a"]}, "spec.addresses[0]", ("'pool-a'", "no CIDR")),
        (
            {"addresses": ["192.0.2.0/24", "192.0.2.7"]},
            "spec.addresses",
            ("'192.0.2.0/24' and '192.0.2.7' overlap",),
        ),
        ({"addresses": []}, "spec.addresses", ("at least 1",)),
        ({"autoAssign": "yes"}, "spec.autoAssign", ("valid boolean",)),
        ({"serviceSelector": {"matchLabels": {"": "x"}}}, "spec.serviceSelector.matchLabels", ("1..317",)),
        (
            {"namespaceSelector": {"matchExpressions": [{"key": "lb", "operator": "In"}]}},
            "spec.namespaceSelector.matchExpressions[0]",
            ("In needs at least one value",),
        ),
        (
            {"namespaceSelector": {"matchExpressions": [{"key": "lb", "operator": "Exists", "values": ["x"]}]}},
            "spec.namespaceSelector.matchExpressions[0]",
            ("Exists takes no values", "['x']"),
        ),
        (
            {"serviceSelector": {"matchExpressions": [{"key": "lb", "operator": "Like"}]}},
            "spec.serviceSelector.matchExpressions[0].operator",
            ("'Like'",),
        ),
        ({"colour": "blue"}, "spec.colour", ("unknown field",)),
    ],
)
def test_a_bad_field_is_named_with_its_value_and_why(
    spec: dict[str, Any], path: str, words: tuple[str, ...]
) -> None:
    found = [p for p in problems(pool(**spec)) if p.startswith(path + ":")]
    assert found, problems(pool(**spec))
    assert any(all(word in p for word in words) for p in found), found


CEL_CASES = [
    (
        {"namespaceSelector": {"matchExpressions": [{"key": "lb", "operator": "NotIn"}]}},
        "operators In and NotIn need at least one value",
    ),
    (
        {"serviceSelector": {"matchExpressions": [{"key": "lb", "operator": "DoesNotExist", "values": ["x"]}]}},
        "operators Exists and DoesNotExist take no values",
    ),
]


@pytest.mark.parametrize(("spec", "message"), CEL_CASES)
def test_the_crd_refuses_what_cel_can_see(spec: dict[str, Any], message: str) -> None:
    assert message in {text for _, text in crd_admission.admission_errors(pool(**spec))}
    assert problems(pool(**spec)), "the model refuses it too"


def test_the_crd_refuses_what_its_schema_can_see() -> None:
    errors = crd_admission.admission_errors(pool(addresses=[], autoAssign="yes"))
    assert {path for path, _ in errors} >= {"spec.addresses", "spec.autoAssign"}, errors
