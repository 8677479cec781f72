"""Kubernetes label selectors (metav1.LabelSelector) as VIPPools use them, and the ``key=value,...`` form
annotations write them in.

Semantics are the API machinery's: ``matchLabels`` and ``matchExpressions`` are ANDed; an empty selector
selects everything; ``In``/``NotIn`` need values, ``Exists``/``DoesNotExist`` take none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from kubelvs.api.fields import StrictText
from kubelvs.api.problems import shown

LabelKey = Annotated[StrictText, Field(min_length=1, max_length=317)]  # prefix (253) / name (63)
LabelValue = Annotated[StrictText, Field(max_length=63)]


class _Selector(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_attribute_docstrings=True
    )


class LabelSelectorRequirement(_Selector):
    """One ``matchExpressions`` item."""

    key: LabelKey
    """The label key the requirement applies to."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """In, NotIn, Exists or DoesNotExist."""
    values: list[LabelValue] = Field(default_factory=list, max_length=64)
    """The values of In and NotIn; empty for Exists and DoesNotExist."""

    @model_validator(mode="after")
    def _values_fit_the_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values (got {shown(self.values)})")
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        found = self.key in labels and labels[self.key] in self.values
        return found if self.operator == "In" else not found


class LabelSelector(_Selector):
    """Which objects by their labels; empty selects all."""

    match_labels: dict[StrictText, LabelValue] = Field(default_factory=dict, max_length=64)
    """Labels an object must carry, each with this value."""
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=64)
    """Further requirements, all of which must hold."""

    @field_validator("match_labels")
    @classmethod
    def _keys_fit(cls, labels: dict[str, str]) -> dict[str, str]:
        for key in labels:  # a CRD's schema cannot bound map keys (no propertyNames): checked here
            if not 1 <= len(key) <= 317:
                raise ValueError(f"key {shown(key)} is not 1..317 characters long")
        return labels

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )


def parse_equality_selector(text: str) -> dict[str, str]:
    """``zone=a,role=lb`` (kubectl's equality form) as a map; ValueError naming the part that is not one."""
    selector: dict[str, str] = {}
    if not text.strip():
        return selector
    for part in text.split(","):
        key, equals, value = part.strip().partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key or "=" in value or len(key) > 317 or len(value) > 63:
            raise ValueError(f"{shown(part.strip())} is not a key=value label requirement")
        if key in selector and selector[key] != value:
            raise ValueError(f"label {shown(key)} is required twice with different values")
        selector[key] = value
    return selector
