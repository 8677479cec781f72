"""A verdict's message (the Accepted condition, its Event, a stderr line) stays under MESSAGE_LIMIT however many
problems prove it: whole problems first, then how many were left out."""

from __future__ import annotations

from kubelvs.api.judgement import MESSAGE_LIMIT, Verdict
from kubelvs.api.problems import Problem
from kubelvs.api.rejections import Rejection


def test_few_problems_are_joined_whole() -> None:
    verdict = Verdict(Rejection.INVALID_SPEC, (Problem("spec.port", "too big"), Problem("spec.address", "bad")))
    assert verdict.message == "spec.port: too big; spec.address: bad"


def test_thousands_of_problems_are_cut_after_whole_ones_with_a_count() -> None:
    problems = tuple(
        Problem(f"spec.fwmarkMatch.ports[{i}]", "TCP 192.0.2.1:80 is already claimed") for i in range(5000)
    )
    message = Verdict(Rejection.SERVICE_CONFLICT, problems).message
    assert len(message) <= MESSAGE_LIMIT
    assert message.startswith("spec.fwmarkMatch.ports[0]: TCP 192.0.2.1:80 is already claimed; ")
    kept = message.count("is already claimed")
    assert message.endswith(f"; and {5000 - kept} more problem(s)")


def test_one_huge_problem_keeps_its_head() -> None:
    message = Verdict(
        Rejection.INVALID_SPEC, (Problem("spec", "x" * 100_000), Problem("spec.port", "bad"))
    ).message
    assert (
        len(message) <= MESSAGE_LIMIT
        and message.startswith("spec: xxx")
        and message.endswith("and 1 more problem(s)")
    )
