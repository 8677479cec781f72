"""The chart's crds/ is the repository's generated crds/, byte for byte, and helm installs exactly those."""

from __future__ import annotations

import yaml


def test_chart_crds_are_identical_to_the_generated_ones(chart_dir, repo_dir) -> None:
    generated = {p.name: p.read_bytes() for p in (repo_dir / "crds").glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in (chart_dir / "crds").glob("*.yaml")}
    assert generated, "crds/ is empty: run `kubelvs crds --write crds`"
    assert sorted(shipped) == sorted(generated), "copy crds/*.yaml to charts/kubelvs/crds/"
    stale = [name for name in generated if shipped[name] != generated[name]]
    assert not stale, f"charts/kubelvs/crds/ is stale ({stale}): cp crds/*.yaml charts/kubelvs/crds/"


def test_rendered_release_installs_both_kube_lvs_crds(render) -> None:
    names = {o["metadata"]["name"] for o in render().of_kind("CustomResourceDefinition")}
    assert {"virtualservers.lvs.kubelvs.io", "realservers.lvs.kubelvs.io"} <= names


def test_kopf_peering_crd_only_when_peering_on_and_wanted(render) -> None:
    def peering_objects(values):
        rendered = render(values)
        crds = [o for o in rendered.of_kind("CustomResourceDefinition") if o["spec"]["group"] == "kopf.dev"]
        return len(crds), [o["metadata"]["name"] for o in rendered.of_kind("ClusterKopfPeering")]

    assert peering_objects({}) == (1, ["kubelvs"])
    assert peering_objects({"operator": {"peering": {"createCRD": False}}}) == (0, ["kubelvs"])
    assert peering_objects({"operator": {"peering": {"enabled": False}}}) == (0, [])


def test_peering_object_is_a_hook_so_its_crd_exists_first(render) -> None:
    peering = render().find("ClusterKopfPeering")
    assert "post-install" in peering["metadata"]["annotations"]["helm.sh/hook"]


def test_generated_crd_files_are_single_yaml_documents(chart_dir) -> None:
    for path in sorted((chart_dir / "crds").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert [d["kind"] for d in docs] == ["CustomResourceDefinition"], path.name
