"""The chart README's values table is what values.yaml's ``# --`` comments and the schema generate, and the
generator follows helm-docs' convention (a described key is one row; free-form maps stay one value)."""

from __future__ import annotations

import json

import pytest
import values_table


def test_committed_table_is_fresh(chart_dir) -> None:
    fresh = values_table.fresh_readme(chart_dir)
    assert (chart_dir / "README.md").read_text() == fresh, "charts/kubelvs/README.md is stale: make chart-readme"


def test_every_row_is_a_key_of_the_schema_and_every_key_has_a_description(chart_dir) -> None:
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    rows = values_table.rows((chart_dir / "values.yaml").read_text(), schema)
    assert len(rows) > 50
    unknown = [r.key for r in rows if not values_table.schema_of(schema, r.key.split("."))]
    assert not unknown, f"rows the schema does not know: {unknown}"
    undocumented = [r.key for r in rows if not r.description and not any(o.key == r.key.rsplit(".", 1)[0]
                    and o.description for o in rows)]  # fmt: skip
    assert not undocumented, f"values.yaml keys without a `# --` comment (nor a described parent): {undocumented}"


SCHEMA = {
    "properties": {
        "a": {"type": "object", "properties": {"b": {"type": "integer"}, "c": {"type": "string"}}},
        "sel": {"type": "object", "additionalProperties": {"type": "string"}},
        "res": {"type": "object", "properties": {"limits": {"type": "object"}}},
        "level": {"enum": ["info", "debug"]},
    }
}
VALUES = """\
# A plain comment describes nothing.
a:
  # -- First line
  # and its continuation.
  b: 1
  c: x|y
# -- Free-form map: one row.
sel:
  kubernetes.io/os: linux
# -- Described map, nothing described below it: one row.
res:
  limits:
    cpu: "1"
level: info
"""


def test_generator_rows_follow_the_comment_convention() -> None:
    rows = {r.key: r for r in values_table.rows(VALUES, SCHEMA)}
    assert list(rows) == ["a.b", "a.c", "sel", "res", "level"]
    assert rows["a.b"].description == "First line and its continuation."
    assert (rows["a.b"].type, rows["a.b"].default) == ("integer", "1")
    assert rows["sel"].default == '{"kubernetes.io/os": "linux"}'
    assert rows["res"].default == '{"limits": {"cpu": "1"}}'
    assert (rows["level"].type, rows["level"].description) == ("string", "")


def test_table_escapes_pipes_and_readme_without_markers_is_refused() -> None:
    assert '`"x\\|y"`' in values_table.table(VALUES, SCHEMA)
    with pytest.raises(ValueError, match="<!-- values -->"):
        values_table.readme_with_table("# no table here\n", "")
