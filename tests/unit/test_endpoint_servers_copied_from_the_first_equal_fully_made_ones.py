"""A resolution makes its first endpoint server in full and the others as copies of it (cheaper under churn):
each copy is, field for field, what the full construction makes of the same endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from objects import endpoint, endpoint_slice, service, vs

from kubelvs.api import backends
from kubelvs.api.backends import EndpointServer, resolve


def _full(server: EndpointServer) -> EndpointServer:
    """The reference: the same endpoint made by the full construction."""
    model = vs("web", forwarding="nat", backends={"service": "web", "port": "http", "weight": 5})
    assert model.spec.backends is not None
    address, port = server.spec.address, server.spec.port or 0
    made = model.spec.backends
    return backends._server(model, made, address, port, server.draining, server.node_name, server.age)


def _everything(server: EndpointServer) -> dict[str, Any]:
    return {
        "dump": server.model_dump(by_alias=True),
        "set": (server.model_fields_set, server.metadata.model_fields_set, server.spec.model_fields_set),
        "extra": (server.__pydantic_extra__, server.metadata.__pydantic_extra__, server.spec.__pydantic_extra__),
        "key": server.key,
        "hash": hash(server.spec),
    }


@pytest.mark.parametrize("created", ["2026-12-01T10:00:00Z", None])
def test_every_endpoint_server_equals_the_full_construction(created: str | None) -> None:
    model = vs("web", forwarding="nat", backends={"service": "web", "port": "http", "weight": 5})
    piece = endpoint_slice(
        "web-a",
        [
            endpoint("10.1.0.1", node="n1"),
            endpoint("10.1.0.2", ready=False, serving=True, terminating=True, node="n2"),
            endpoint("10.1.0.3"),
            endpoint("10.1.0.4", node="n1"),
        ],
        created=created,
    )
    found = resolve(model, service(), [piece]).servers
    assert [s.spec.address for s in found] == ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"]
    for server in found:
        reference = _full(server)
        assert server == reference
        assert _everything(server) == _everything(reference)
    assert found[1].spec.weight == 0 and found[1].draining and found[0].spec.weight == 5
    assert found[2].node_name is None and found[3].node_name == "n1"
    assert (found[0].metadata.labels is not found[1].metadata.labels) and not found[1].metadata.labels
    assert found[0].metadata.model_extra is not found[1].metadata.model_extra


def test_slices_of_different_ages_copy_no_age_from_another() -> None:
    model = vs("web", forwarding="nat", backends={"service": "web", "port": "http", "weight": 5})
    dated = endpoint_slice("web-a", [endpoint("10.1.0.1")], created="2026-12-01T10:00:00Z")
    undated = endpoint_slice("web-b", [endpoint("10.1.0.2")])
    later = endpoint_slice("web-c", [endpoint("10.1.0.3")], created="2026-12-02T10:00:00Z")
    found = resolve(model, service(), [dated, undated, later]).servers
    assert [s.age for s in found] == ["2026-12-01T10:00:00Z", "", "2026-12-02T10:00:00Z"]
    for server in found:
        assert _everything(server) == _everything(_full(server))
