"""``helm lint --strict`` accepts the chart with the defaults and every other value set."""

from __future__ import annotations


def test_helm_lint_is_clean(helm_run, chart_dir, value_set) -> None:
    out = helm_run("lint", str(chart_dir), values=value_set)
    assert "1 chart(s) linted, 0 chart(s) failed" in out


def test_helm_lint_strict_is_clean(helm_run, chart_dir, value_set) -> None:
    out = helm_run("lint", "--strict", str(chart_dir), values=value_set)
    assert "1 chart(s) linted, 0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out, out
