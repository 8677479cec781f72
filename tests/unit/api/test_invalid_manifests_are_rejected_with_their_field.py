"""Every kind of invalid manifest is rejected, naming the field and the value or rule, and nothing else is.

Each case also says who else catches it: the API server through the generated CRD (its OpenAPI schema,
pruning of unknown fields, list-type set, or a CEL rule) or only the operator (IP parsing, netmask
contiguity, rules across objects). That column is checked too, against an emulation of the API server
(crd_admission), so the CRD and the models cannot drift apart silently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import crd_admission
import pytest
import yaml
from test_vip_pools_are_validated_field_by_field import CEL_CASES as VIP_POOL_CEL_CASES

from kubelvs import cli
from kubelvs.api import celrules, manifests

DROP = object()  # a spec value that removes the field from the builder's default

# Who besides kubelvs validate / the operator rejects a case:
SCHEMA = "schema"  # the CRD's OpenAPI schema (types, enums, ranges, patterns, required)
CEL = "cel"  # a CEL rule of the CRD (x-kubernetes-validations)
PRUNED = "pruned"  # not in the schema: pruned, or rejected by kubectl's strict field validation
SET = "set"  # x-kubernetes-list-type: set
KUBE = "kube"  # the API server's own checks, outside our schema (names, served versions and kinds)
OPERATOR = "operator"  # only the operator: the API server accepts the object


def _spec(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    spec = {**defaults, **overrides}
    return {key: value for key, value in spec.items() if value is not DROP}


def vs(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "lvs.kubelvs.io/v1alpha1",
        "kind": "VirtualServer",
        "metadata": {"name": name},
        "spec": _spec({"address": "192.0.2.10", "port": 80}, spec),
    }


def rs(name: str = "web-1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "lvs.kubelvs.io/v1alpha1",
        "kind": "RealServer",
        "metadata": {"name": name},
        "spec": _spec({"virtualServer": "web", "address": "192.0.2.21"}, spec),
    }


def hc(**check: Any) -> dict[str, Any]:
    return {"type": "tcp", **check}


def http(**url: Any) -> dict[str, Any]:
    return {"type": "http", "http": {"path": "/", **url}}


V6 = {"address": "2001:db8::10"}
FWM = {"fwmark": 7, "address": DROP, "port": DROP}
VS_WEB = "VirtualServer default/web"
RS_WEB = "RealServer default/web-1"


def _describe(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata", {})
    return f"{doc['kind']} {meta.get('namespace', 'default')}/{meta.get('name', '<no name>')}"


def case(id: str, crd: str, path: str, words: str | tuple[str, ...], *docs: dict[str, Any], obj: str = "") -> Any:
    """One invalid set: the field the finding names, the words its message must hold, and the documents.

    The offending object is the last document unless ``obj`` names another.
    """
    words = (words,) if isinstance(words, str) else words
    return pytest.param(list(docs), obj or _describe(docs[-1]), path, words, crd, id=id)


CASES = [
    # --- addresses
    case(
        "ipv4-octet-over-255",
        OPERATOR,
        "spec.address",
        ("'192.0.2.300'", "IPv4 or IPv6"),
        vs(address="192.0.2.300"),
    ),
    case("ipv4-three-octets", OPERATOR, "spec.address", "'192.0.2'", vs(address="192.0.2")),
    case("hostname-as-vip", OPERATOR, "spec.address", "'web.example'", vs(address="web.example")),
    case("ipv6-bad-hex", OPERATOR, "spec.address", "'2001:db8::zz'", vs(address="2001:db8::zz")),
    case("ipv6-triple-colon", OPERATOR, "spec.address", "'2001:db8:::1'", vs(address="2001:db8:::1")),
    case("empty-address", OPERATOR, "spec.address", "''", vs(address="")),
    case("real-server-bad-ipv4", OPERATOR, "spec.address", "'192.0.2.256'", vs(), rs(address="192.0.2.256")),
    case(
        "gateway-bad-ipv4",
        OPERATOR,
        "spec.directors.gateway.address",
        "'192.0.2'",
        vs(forwarding="nat", directors={"gateway": {"address": "192.0.2"}}),
    ),
    case(
        "fwmark-match-bad-destination",
        OPERATOR,
        "spec.fwmarkMatch.destination",
        "'nope'",
        vs(**FWM, fwmarkMatch={"destination": "nope", "ports": [80]}),
    ),
    # a zone id: the only address class CEL can tell without the IP library (the rest: api/address_classes.py)
    case("vip-zone-id", CEL, "spec.address", ("fe80::1%eth0", "zone id"), vs(address="fe80::1%eth0")),
    case("real-server-zone-id", CEL, "spec.address", "zone id", vs(**V6), rs(address="2001:db8::21%eth0")),
    case(
        "gateway-zone-id",
        CEL,
        "spec.directors.gateway.address",
        "zone id",
        vs(**V6, forwarding="nat", directors={"gateway": {"address": "fd00::1%eth1"}}),
    ),
    case(
        "fwmark-match-destination-zone-id",
        CEL,
        "spec.fwmarkMatch.destination",
        "zone id",
        vs(**FWM, fwmarkMatch={"destination": "2001:db8::10%eth0", "ports": [80]}),
    ),
    # --- ports
    case("port-over-65535", SCHEMA, "spec.port", "65535", vs(port=70000)),
    case("port-negative", SCHEMA, "spec.port", "greater than or equal to 0", vs(port=-1)),
    case("port-not-a-number", SCHEMA, "spec.port", ("integer", "'http'"), vs(port="http")),
    case("port-zero-without-persistence", CEL, "spec.port", ("0", "persistence"), vs(port=0)),
    case("port-missing", CEL, "spec.port", "required", vs(port=DROP)),
    case("real-server-port-over-65535", SCHEMA, "spec.port", "65535", vs(), rs(port=65536)),
    case("health-check-port-over-65535", SCHEMA, "spec.healthCheck.port", "65535", vs(healthCheck=hc(port=65536))),
    case(
        "fwmark-match-port-over-65535",
        SCHEMA,
        "spec.fwmarkMatch.ports[0]",
        "65535",
        vs(**FWM, fwmarkMatch={"destination": "192.0.2.10", "ports": [70000]}),
    ),
    case(
        "fwmark-match-no-ports",
        SCHEMA,
        "spec.fwmarkMatch.ports",
        "at least 1",
        vs(**FWM, fwmarkMatch={"destination": "192.0.2.10", "ports": []}),
    ),
    # --- schedulers, protocols, forwarding
    case("unknown-scheduler", SCHEMA, "spec.scheduler", ("'roundrobin'", "'rr'"), vs(scheduler="roundrobin")),
    case("scheduler-in-capitals", SCHEMA, "spec.scheduler", "'RR'", vs(scheduler="RR")),
    case("unknown-protocol", SCHEMA, "spec.protocol", ("'ICMP'", "'TCP'"), vs(protocol="ICMP")),
    case("protocol-in-lower-case", SCHEMA, "spec.protocol", "'tcp'", vs(protocol="tcp")),
    case("unknown-forwarding", SCHEMA, "spec.forwarding", ("'masq'", "'nat'"), vs(forwarding="masq")),
    case(
        "real-server-unknown-forwarding",
        SCHEMA,
        "spec.forwarding",
        "'gatewaying'",
        vs(),
        rs(forwarding="gatewaying"),
    ),
    case(
        "unknown-scheduler-flag",
        SCHEMA,
        "spec.schedulerFlags[0]",
        "'sh-bogus'",
        vs(schedulerFlags=["sh-bogus"], scheduler="sh"),
    ),
    case(
        "sh-flag-on-rr",
        CEL,
        "spec.schedulerFlags[0]",
        ("'sh-port'", "'sh'", "'rr'"),
        vs(schedulerFlags=["sh-port"], scheduler="rr"),
    ),
    case(
        "mh-flag-on-sh",
        CEL,
        "spec.schedulerFlags[0]",
        ("'mh-fallback'", "'mh'"),
        vs(schedulerFlags=["mh-fallback"], scheduler="sh"),
    ),
    case(
        "sh-flag-on-default-wlc",
        CEL,
        "spec.schedulerFlags[0]",
        ("'sh-port'", "'wlc'"),
        vs(schedulerFlags=["sh-port"]),
    ),
    case("one-packet-on-tcp", CEL, "spec.onePacket", "UDP", vs(onePacket=True, protocol="TCP")),
    case("one-packet-on-default-tcp", CEL, "spec.onePacket", "UDP", vs(onePacket=True)),
    # --- fwmark services
    case("fwmark-with-address", CEL, "spec.address", ("'192.0.2.10'", "fwmark 7"), vs(fwmark=7, port=DROP)),
    case("fwmark-with-port", CEL, "spec.port", ("80", "fwmark 7"), vs(fwmark=7, address=DROP)),
    case("fwmark-with-protocol", CEL, "spec.protocol", ("UDP", "fwmark 7"), vs(**FWM, protocol="UDP")),
    case(
        "fwmark-zero", SCHEMA, "spec.fwmark", "greater than or equal to 1", vs(fwmark=0, address=DROP, port=DROP)
    ),
    case("fwmark-over-32-bits", SCHEMA, "spec.fwmark", "4294967295", vs(fwmark=2**32, address=DROP, port=DROP)),
    case("neither-address-nor-fwmark", CEL, "spec.address", ("required", "fwmark"), vs(address=DROP)),
    case(
        "fwmark-match-without-fwmark",
        CEL,
        "spec.fwmarkMatch",
        "fwmark",
        vs(fwmarkMatch={"destination": "192.0.2.10", "ports": [80]}),
    ),
    case("address-family-without-fwmark", CEL, "spec.addressFamily", "fwmark", vs(addressFamily="IPv6")),
    case(
        "address-family-contradicts-fwmark-match",
        CEL,
        "spec.addressFamily",
        ("IPv4", "2001:db8::10"),
        vs(**FWM, addressFamily="IPv4", fwmarkMatch={"destination": "2001:db8::10", "ports": [80]}),
    ),
    # --- persistence and netmasks
    case(
        "non-contiguous-netmask",
        OPERATOR,
        "spec.persistence.netmask",
        ("'255.0.255.0'", "contiguous"),
        vs(persistence={"netmask": "255.0.255.0"}),
    ),
    case(
        "netmask-with-trailing-one",
        OPERATOR,
        "spec.persistence.netmask",
        ("'255.255.255.1'", "contiguous"),
        vs(persistence={"netmask": "255.255.255.1"}),
    ),
    case(
        "prefix-length-over-128",
        OPERATOR,
        "spec.persistence.netmask",
        ("'/129'", "0..128"),
        vs(**V6, persistence={"netmask": "/129"}),
    ),
    case(
        "netmask-five-octets",
        SCHEMA,
        "spec.persistence.netmask",
        "'255.255.0.0.0'",
        vs(persistence={"netmask": "255.255.0.0.0"}),
    ),
    case(
        "ipv4-netmask-on-ipv6-service",
        CEL,
        "spec.persistence.netmask",
        ("'255.255.255.0'", "IPv6", "/64"),
        vs(**V6, persistence={"netmask": "255.255.255.0"}),
    ),
    case(
        "prefix-length-on-ipv4-service",
        CEL,
        "spec.persistence.netmask",
        ("'/64'", "IPv4"),
        vs(persistence={"netmask": "/64"}),
    ),
    case(
        "persistence-timeout-zero",
        SCHEMA,
        "spec.persistence.timeout",
        "greater than or equal to 1",
        vs(persistence={"timeout": 0}),
    ),
    # --- directors
    case(
        "nat-route-without-gateway", CEL, "spec.directors.gateway", ("nat", "natReturnPath"), vs(forwarding="nat")
    ),
    case(
        "ipv6-gateway-on-ipv4-service",
        CEL,
        "spec.directors.gateway.address",
        ("'2001:db8::1'", "IPv4"),
        vs(forwarding="nat", directors={"gateway": {"address": "2001:db8::1"}}),
    ),
    case(
        "interface-alias-name",
        SCHEMA,
        "spec.directors.interface",
        "'eth0:1'",
        vs(directors={"interface": "eth0:1"}),
    ),
    case(
        "interface-name-too-long",
        SCHEMA,
        "spec.directors.interface",
        ("'averyverylongname0'", "15"),
        vs(directors={"interface": "averyverylongname0"}),
    ),
    case(
        "preferred-node-twice",
        SET,
        "spec.directors.preferred",
        "more than once",
        vs(directors={"preferred": ["node-a", "node-b", "node-a"]}),
    ),
    case(
        "node-selector-value-not-string",
        SCHEMA,
        "spec.directors.nodeSelector.kubelvs.io/director",
        "string",
        vs(directors={"nodeSelector": {"kubelvs.io/director": True}}),
    ),
    # --- health checks and durations
    case(
        "duration-unknown-unit",
        SCHEMA,
        "spec.healthCheck.interval",
        ("'6sec'", "duration"),
        vs(healthCheck=hc(interval="6sec")),
    ),
    case(
        "duration-in-words",
        SCHEMA,
        "spec.healthCheck.interval",
        "'six seconds'",
        vs(healthCheck=hc(interval="six seconds")),
    ),
    case(
        "duration-negative",
        SCHEMA,
        "spec.healthCheck.connectTimeout",
        "'-1s'",
        vs(healthCheck=hc(connectTimeout="-1s")),
    ),
    case(
        "duration-zero",
        CEL,
        "spec.healthCheck.delayBeforeRetry",
        ("'0s'", "longer than zero"),
        vs(healthCheck=hc(delayBeforeRetry="0s")),
    ),
    case(
        "connect-timeout-over-the-interval",
        CEL,
        "spec.healthCheck.connectTimeout",
        ("2m", "longer than interval 1s", "checks pile up"),
        vs(healthCheck=hc(interval="1s", connectTimeout="2m")),
    ),
    case(
        "interval-too-short",
        CEL,
        "spec.healthCheck.interval",
        ("50ms", "shorter than 100ms", "loads the real servers"),
        vs(healthCheck=hc(interval="50ms", connectTimeout="20ms")),
    ),
    case(
        "interval-over-a-day",
        CEL,
        "spec.healthCheck.interval",
        ("25h", "longer than 24h"),
        vs(healthCheck=hc(interval="25h")),
    ),
    case(
        "connect-timeout-too-short",
        CEL,
        "spec.healthCheck.connectTimeout",
        ("5ms", "shorter than 10ms"),
        vs(healthCheck=hc(connectTimeout="5ms")),
    ),
    case(
        "connect-timeout-over-a-day",
        CEL,
        "spec.healthCheck.connectTimeout",
        ("25h", "longer than 24h"),
        vs(healthCheck=hc(interval="24h", connectTimeout="25h")),
    ),
    case(
        "retry-delay-too-short",
        CEL,
        "spec.healthCheck.delayBeforeRetry",
        ("1ms", "shorter than 10ms"),
        vs(healthCheck=hc(delayBeforeRetry="1ms")),
    ),
    case(
        "retry-delay-over-a-day",
        CEL,
        "spec.healthCheck.delayBeforeRetry",
        ("30h", "longer than 24h"),
        vs(healthCheck=hc(delayBeforeRetry="30h")),
    ),
    case(
        "retries-zero",
        SCHEMA,
        "spec.healthCheck.retries",
        "greater than or equal to 1",
        vs(healthCheck=hc(retries=0)),
    ),
    case(
        "unknown-check-type", SCHEMA, "spec.healthCheck.type", ("'icmp'", "'tcp'"), vs(healthCheck=hc(type="icmp"))
    ),
    case(
        "unknown-on-failure",
        SCHEMA,
        "spec.healthCheck.onFailure",
        ("'drop'", "'quiesce'"),
        vs(healthCheck=hc(onFailure="drop")),
    ),
    case(
        "http-path-without-slash",
        CEL,
        "spec.healthCheck.http.path",
        ("'healthz'", "'/'"),
        vs(healthCheck=http(path="healthz")),
    ),
    case(
        "http-status-700",
        CEL,
        "spec.healthCheck.http.expectStatus[1]",
        ("700", "100..599"),
        vs(healthCheck=http(expectStatus=[200, 700])),
    ),
    case(
        "http-no-status",
        SCHEMA,
        "spec.healthCheck.http.expectStatus",
        "at least 1",
        vs(healthCheck=http(expectStatus=[])),
    ),
    case(
        "http-block-on-tcp-check",
        CEL,
        "spec.healthCheck.http",
        "'tcp'",
        vs(healthCheck={"type": "tcp", "http": {"path": "/"}}),
    ),
    # --- real servers
    case("weight-negative", SCHEMA, "spec.weight", "greater than or equal to 0", vs(), rs(weight=-1)),
    case("weight-over-65535", SCHEMA, "spec.weight", "65535", vs(), rs(weight=65536)),
    case("weight-not-a-number", SCHEMA, "spec.weight", "'heavy'", vs(), rs(weight="heavy")),
    case(
        "lower-threshold-above-upper",
        CEL,
        "spec.lowerThreshold",
        ("200", "upperThreshold 100"),
        vs(),
        rs(upperThreshold=100, lowerThreshold=200),
    ),
    case(
        "upper-threshold-negative",
        SCHEMA,
        "spec.upperThreshold",
        "greater than or equal to 0",
        vs(),
        rs(upperThreshold=-5),
    ),
    case(
        "real-server-without-virtual-server",
        SCHEMA,
        "spec.virtualServer",
        "required",
        vs(),
        rs(virtualServer=DROP),
    ),
    case("real-server-without-address", SCHEMA, "spec.address", "required", vs(), rs(address=DROP)),
    case(
        "real-server-empty-virtual-server", SCHEMA, "spec.virtualServer", "at least 1", vs(), rs(virtualServer="")
    ),
    # --- unknown fields, wrong types of object, metadata
    case("unknown-spec-field", PRUNED, "spec.vip", "unknown field", vs(vip="192.0.2.10")),
    case("misspelled-scheduler", PRUNED, "spec.schedular", "unknown field", vs(schedular="rr")),
    case(
        "keepalived-spelling-in-health-check",
        PRUNED,
        "spec.healthCheck.delay_loop",
        "unknown field",
        vs(healthCheck=hc(delay_loop=6)),
    ),
    case("misspelled-weight", PRUNED, "spec.wieght", "unknown field", vs(), rs(wieght=3)),
    case(
        "unserved-version",
        KUBE,
        "apiVersion",
        ("'lvs.kubelvs.io/v1'", "v1alpha1"),
        {**vs(), "apiVersion": "lvs.kubelvs.io/v1"},
    ),
    case(
        "unknown-kind",
        KUBE,
        "kind",
        ("'VirtualService'", "VirtualServer, RealServer"),
        {**vs(), "kind": "VirtualService"},
    ),
    case("missing-spec", SCHEMA, "spec", "required", {key: value for key, value in vs().items() if key != "spec"}),
    case("spec-not-a-mapping", SCHEMA, "spec", ("dictionary", "192.0.2.10:80"), {**vs(), "spec": "192.0.2.10:80"}),
    case("name-not-dns-1123", KUBE, "metadata.name", "pattern", {**vs(), "metadata": {"name": "Web_1"}}),
    case("name-leading-dash", KUBE, "metadata.name", "pattern", {**vs(), "metadata": {"name": "-web"}}),
    case("name-missing", KUBE, "metadata.name", "required", {**vs(), "metadata": {}}),
    # --- across objects: only the operator (and kubelvs validate) sees the whole set
    case("dr-real-server-port-differs", OPERATOR, "spec.port", ("8080", "80", "dr", "remap"), vs(), rs(port=8080)),
    case(
        "tun-real-server-port-differs", OPERATOR, "spec.port", ("8080", "tun"), vs(forwarding="tun"), rs(port=8080)
    ),
    case(
        "dr-override-on-nat-service-remaps",
        OPERATOR,
        "spec.port",
        ("8080", "dr"),
        vs(forwarding="nat", natReturnPath="snat"),
        rs(port=8080, forwarding="dr"),
    ),
    case(
        "duplicate-vip-port-protocol",
        OPERATOR,
        "spec.address",
        ("TCP 192.0.2.10:80", "default/web"),
        vs(),
        vs("web-2"),
    ),
    case(
        "duplicate-ipv6-vip-spelled-differently",
        OPERATOR,
        "spec.address",
        ("TCP [2001:db8::10]:80", "default/web"),
        vs(**V6),
        vs("web-2", address="2001:DB8:0::10"),
    ),
    case("duplicate-fwmark", OPERATOR, "spec.fwmark", ("FWM 7", "default/web"), vs(**FWM), vs("web-2", **FWM)),
    case(
        "dangling-virtual-server",
        OPERATOR,
        "spec.virtualServer",
        ("'nowhere'", "does not exist"),
        rs(virtualServer="nowhere"),
    ),
    case(
        "virtual-server-in-other-namespace",
        OPERATOR,
        "spec.virtualServer",
        ("'web'", "namespace 'other'"),
        vs(),
        {**rs(), "metadata": {"name": "web-1", "namespace": "other"}},
    ),
    case(
        "real-server-of-invalid-virtual-server",
        OPERATOR,
        "spec.virtualServer",
        ("'web'", "is not accepted (InvalidSpec: spec.port"),
        vs(port=70000),
        rs(),
    ),
    case(
        "ipv6-real-server-on-ipv4-dr-service",
        OPERATOR,
        "spec.address",
        ("'2001:db8::21'", "IPv4"),
        vs(),
        rs(address="2001:db8::21"),
    ),
    case(
        "same-real-server-twice",
        OPERATOR,
        "spec.address",
        ("192.0.2.21:80", "default/web-1"),
        vs(),
        rs(),
        rs("web-2"),
    ),
]

# A valid pair in every set: it must stay accepted whatever its neighbours do wrong.
BYSTANDERS = [
    vs("bystander", address="192.0.2.250", port=443),
    rs("bystander-1", virtualServer="bystander", address="192.0.2.251"),
]


def _load(tmp_path: Path, docs: list[dict[str, Any]]) -> manifests.ManifestSet:
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump_all([*docs, *BYSTANDERS], sort_keys=False))
    return manifests.load([str(path)])


def _without_index(path: str) -> str:
    return re.sub(r"\[\d+\]$", "", path)


def test_there_are_at_least_fifty_distinct_cases() -> None:
    assert len({param.id for param in CASES}) == len(CASES) >= 50


@pytest.mark.parametrize(("docs", "obj", "path", "words", "crd"), CASES)
def test_kubelvs_validate_names_the_field_and_the_value_or_rule(
    tmp_path: Path, docs: list[dict[str, Any]], obj: str, path: str, words: tuple[str, ...], crd: str
) -> None:
    result = _load(tmp_path, docs)
    messages = [f.problem.message for f in result.findings if f.obj == obj and f.problem.path == path]
    assert messages, f"no finding at {obj}: {path}; got {[str(f) for f in result.findings]}"
    assert any(all(word in message for word in words) for message in messages), messages


@pytest.mark.parametrize(("docs", "obj", "path", "words", "crd"), CASES)
def test_valid_neighbours_are_still_accepted(
    tmp_path: Path, docs: list[dict[str, Any]], obj: str, path: str, words: tuple[str, ...], crd: str
) -> None:
    result = _load(tmp_path, docs)
    rejected = {f.obj for f in result.findings}
    accepted = {f"VirtualServer {v.key}" for v in result.virtual_servers}
    accepted |= {f"RealServer {r.key}" for r in result.real_servers}
    assert {"VirtualServer default/bystander", "RealServer default/bystander-1"} <= accepted
    every = {_describe(doc) for doc in [*docs, *BYSTANDERS] if doc["kind"] in ("VirtualServer", "RealServer")}
    assert accepted == every - rejected


# The API server's own metadata/version/kind checks are outside the CRD schema: no case for them here.
@pytest.mark.parametrize(("docs", "obj", "path", "words", "crd"), [c for c in CASES if c.values[4] != KUBE])
def test_the_crd_catches_what_the_api_server_can_see(
    docs: list[dict[str, Any]], obj: str, path: str, words: tuple[str, ...], crd: str
) -> None:
    doc = next(d for d in docs if _describe(d) == obj)
    errors = crd_admission.admission_errors(doc)
    if crd == OPERATOR:
        assert errors == [], "the CRD catches it too: move the case to the right column"
        return
    paths = {p for p, _ in errors}
    if crd == CEL:
        assert _without_index(path) in {_without_index(p) for p in paths}, errors
    elif crd == SET:
        assert any(p.startswith(path + "[") for p in paths), errors
    else:
        assert path in paths, errors


def test_every_cel_rule_rejects_one_of_the_cases() -> None:
    fired = {message for _, message in VIP_POOL_CEL_CASES}  # fired there (test_vip_pools_...)
    for param in CASES:
        docs, obj, _, _, crd = param.values
        if crd == CEL:
            doc = next(d for d in docs if _describe(d) == obj)
            fired |= {message for _, message in crd_admission.admission_errors(doc)}
    rules = [rule for rules in celrules.BY_MODEL.values() for rule in rules]
    assert [rule.message for rule in rules if rule.message not in fired] == []


@pytest.mark.parametrize(
    ("docs", "code"),
    [
        pytest.param([vs(), rs()], 0, id="valid"),
        pytest.param([vs(port=70000), rs()], 1, id="invalid"),
    ],
)
def test_cli_exit_code(tmp_path: Path, docs: list[dict[str, Any]], code: int) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    assert cli.main(["validate", str(path)]) == code


def test_cli_prints_one_line_per_problem_as_file_kind_name_path_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump_all([vs(port=70000), vs("udp", protocol="UDP", onePacket=True), rs("orphan")]))
    assert cli.main(["validate", str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"{path}: VirtualServer default/web: spec.port: Input should be less than or equal to 65535 (got 70000)",
        f"{path}: RealServer default/orphan: spec.virtualServer: VirtualServer 'web' is not accepted"
        " (InvalidSpec: spec.port: Input should be less than or equal to 65535 (got 70000))",
    ]


def test_cli_accepts_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).parents[3] / "examples"
    assert cli.main(["validate", str(examples)]) == 0
    assert capsys.readouterr().out.startswith("ok: 5 VirtualServer(s), 10 RealServer(s)")
