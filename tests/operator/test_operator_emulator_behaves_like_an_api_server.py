"""The test API server keeps the metadata contract controllers rely on (what kmock alone does not)."""

from __future__ import annotations

import pytest
from conftest import API_VERSION, virtual_server
from emulator import ApiError


@pytest.fixture(scope="module")
def web(api):
    return api.create("virtualservers", virtual_server("web"))


def get(api):
    return api.get(API_VERSION, "virtualservers", "default", "web")


def test_create_fills_in_metadata_and_drops_status(api):
    created = api.create("virtualservers", {**virtual_server("fresh"), "status": {"ready": "9/9"}})
    meta = created["metadata"]
    assert meta["generation"] == 1 and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["resourceVersion"]
    assert "status" not in created


def test_generate_name_makes_unique_names(api):
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"namespace": "default", "generateName": "e-"}}
    names = {api.create("events", event)["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3 and all(name.startswith("e-") for name in names)


@pytest.mark.parametrize(
    ("patch", "subresource", "bump"),
    [
        pytest.param({"spec": {"port": 81}}, None, 1, id="spec-bumps"),
        pytest.param({"metadata": {"labels": {"x": "y"}}}, None, 0, id="metadata-does-not"),
        pytest.param({"status": {"ready": "1/1"}}, "status", 0, id="status-does-not"),
    ],
)
def test_generation_moves_with_the_spec_only(api, web, patch, subresource, bump):
    before = get(api)["metadata"]
    after = api.patch(API_VERSION, "virtualservers", "default", "web", patch, subresource)["metadata"]
    assert after["generation"] == before["generation"] + bump
    assert after["resourceVersion"] != before["resourceVersion"]


def test_status_subresource_separates_spec_and_status(api, web):
    api.patch(API_VERSION, "virtualservers", "default", "web", {"spec": {"port": 82}, "status": {"ready": "x"}})
    api.patch(
        API_VERSION, "virtualservers", "default", "web", {"spec": {"port": 83}, "status": {"ready": "y"}}, "status"
    )
    obj = get(api)
    assert obj["spec"]["port"] == 82
    assert obj["status"]["ready"] == "y"


def test_stale_resource_version_is_a_conflict(api, web):
    stale = get(api)["metadata"]["resourceVersion"]
    api.patch(API_VERSION, "virtualservers", "default", "web", {"metadata": {"labels": {"n": "1"}}})
    body = {"metadata": {"resourceVersion": stale, "labels": {"n": "2"}}}
    with pytest.raises(ApiError) as error:
        api.patch(API_VERSION, "virtualservers", "default", "web", body)
    assert error.value.status == 409


def test_put_replaces_with_optimistic_concurrency(api):
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "namespace": "default"},
        "spec": {"holderIdentity": "a"},
    }
    created = api.create("leases", lease)
    path = "/apis/coordination.k8s.io/v1/namespaces/default/leases/l"
    taken = api.request("PUT", path, {**created, "spec": {"holderIdentity": "b"}})
    assert taken["spec"] == {"holderIdentity": "b"}
    assert taken["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(ApiError) as error:
        api.request("PUT", path, {**created, "spec": {"holderIdentity": "c"}})  # based on the old version
    assert error.value.status == 409
