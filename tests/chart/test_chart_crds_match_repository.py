"""The chart's CRDs are the generated ones, byte for byte, and ship as templates that ``helm upgrade`` updates and
``helm uninstall`` keeps (``helm.sh/resource-policy: keep``), behind ``crds.install``."""

from __future__ import annotations

import copy

import pytest
import yaml

from kubelvs import cli

KEEP = "helm.sh/resource-policy"


def test_chart_crd_files_are_identical_to_the_repositorys(chart_dir, repo_dir) -> None:
    generated = {p.name: p.read_bytes() for p in (repo_dir / "crds").glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in (chart_dir / "files" / "crds").glob("*.yaml")}
    assert generated, "crds/ is empty: run `kubelvs crds --write crds`"
    assert sorted(shipped) == sorted(generated), "charts/kubelvs/files/crds/ lacks or has extra files: make crds"
    stale = [name for name in generated if shipped[name] != generated[name]]
    assert not stale, f"charts/kubelvs/files/crds/ is stale ({stale}): make crds"


def test_chart_crd_files_are_what_kubelvs_crds_generates(chart_dir, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crds", "--check", str(chart_dir / "files" / "crds")]) == 0, capsys.readouterr().err


def test_chart_has_no_crds_directory_helm_would_never_upgrade(chart_dir) -> None:
    assert not (chart_dir / "crds").exists(), "helm installs crds/ once and never upgrades it: use files/crds/"


def test_rendered_crds_are_the_files_plus_the_keep_policy_and_labels(render, chart_dir) -> None:
    shipped = [yaml.safe_load(p.read_text()) for p in sorted((chart_dir / "files" / "crds").glob("*.yaml"))]
    rendered = {o["metadata"]["name"]: o for o in render().of_kind("CustomResourceDefinition")}
    for crd in shipped:
        name = crd["metadata"]["name"]
        assert name in rendered, f"{name} is not rendered"
        got = copy.deepcopy(rendered[name])
        assert got["metadata"].pop("annotations") == {KEEP: "keep"}
        labels = got["metadata"].pop("labels")
        assert labels["app.kubernetes.io/managed-by"] == "Helm" and labels["app.kubernetes.io/component"] == "crds"
        assert got == crd, f"{name}: the rendered CRD differs from files/crds/ (beyond annotations and labels)"


def test_large_integers_survive_rendering(render) -> None:
    # 2**32 - 1 as a float (4.294967295e+09) would no longer be an integer bound for the API server
    rendered = render().find("CustomResourceDefinition", "realservers.lvs.kubelvs.io")
    assert "4294967295" in yaml.safe_dump(rendered)


def test_every_crd_is_kept_on_uninstall(render) -> None:
    crds = render().of_kind("CustomResourceDefinition")
    groups = sorted({o["spec"]["group"] for o in crds})
    assert groups == ["kopf.dev", "lvs.kubelvs.io"]
    unkept = [o["metadata"]["name"] for o in crds if o["metadata"].get("annotations", {}).get(KEEP) != "keep"]
    assert not unkept, f"helm uninstall would delete {unkept} and every object of them"


def test_crds_install_false_renders_none_of_kube_lvs(render) -> None:
    crds = render({"crds": {"install": False}}).of_kind("CustomResourceDefinition")
    assert [o["spec"]["group"] for o in crds] == ["kopf.dev"], "kopf's follows operator.peering.createCRD"


def test_kopf_peering_crd_only_when_peering_on_and_wanted(render) -> None:
    def peering_objects(values):
        rendered = render(values)
        crds = [o for o in rendered.of_kind("CustomResourceDefinition") if o["spec"]["group"] == "kopf.dev"]
        return len(crds), [o["metadata"]["name"] for o in rendered.of_kind("ClusterKopfPeering")]

    assert peering_objects({}) == (1, ["kubelvs"])
    assert peering_objects({"operator": {"peering": {"createCRD": False}}}) == (0, ["kubelvs"])
    assert peering_objects({"operator": {"peering": {"enabled": False}}}) == (0, [])


@pytest.mark.parametrize("kind", ["ClusterKopfPeering", "VIPPool"])
def test_objects_of_the_releases_own_crds_are_hooks_so_their_crd_exists_first(render, kind) -> None:
    rendered = render({"loadBalancer": {"pools": {"public": {"addresses": ["198.51.100.64/27"]}}}})
    (obj,) = rendered.of_kind(kind)
    hooks = obj["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert hooks == ["post-install", "post-upgrade"]


def test_generated_crd_files_are_single_yaml_documents(chart_dir) -> None:
    for path in sorted((chart_dir / "files" / "crds").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert [d["kind"] for d in docs] == ["CustomResourceDefinition"], path.name


def test_crds_are_templates_so_upgrade_renders_them(helm_run, chart_dir) -> None:
    # without --include-crds: what `helm upgrade` applies; crds/ would be missing from it
    out = helm_run("template", "lvs", str(chart_dir), "--namespace", "kube-lvs")
    names = {
        d["metadata"]["name"] for d in yaml.safe_load_all(out) if d and d["kind"] == "CustomResourceDefinition"
    }
    assert {"virtualservers.lvs.kubelvs.io", "realservers.lvs.kubelvs.io", "vippools.lvs.kubelvs.io"} <= names
