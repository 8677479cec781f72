"""RBAC is least privilege and still enough: the rendered roles grant exactly the declared API calls, and
the code makes no call that is not declared.

How the calls are found, so a new call without a rule fails here:
- the Kubernetes client: every attribute in the source that is a method of a ``kubernetes.client.*Api``
  class (``read_namespaced_lease``, ``patch_namespaced_custom_object_status``...) is parsed into
  (API group, resource[/status], verb). Custom-object calls count for the plurals their function names,
  else those the file names, else all of them.
- kopf: every ``@kopf.on.*`` / ``@kopf.index`` / ``@kopf.timer`` / ``@kopf.daemon`` decorator means list and
  watch of its resource; the ones that keep state on the object (not ``on.event``/``index``) mean patch;
  ``kopf.event/info/warn/exception`` mean creating core Events.
The operator's code is ``controller/`` and ``commands/operator.py``; the agent's is ``agent/`` and
``commands/agent.py``. What only the framework needs (kopf's CRD scanning and peering) is declared by hand.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import kubernetes.client
import pytest

GROUP = "lvs.kubelvs.io"
LVS_PLURALS = ("virtualservers", "realservers", "vippools")
CLUSTER, NAMESPACE = "cluster", "release-namespace"

# (group, resource, verb, where) the chart grants; "where" is CLUSTER (ClusterRole) or NAMESPACE (Role in
# the release namespace). Anything the chart grants must be here, and everything here must be granted.
# what VirtualServers' backends follow, read by both: Services and EndpointSlices, cluster-wide
BACKENDS = {
    (g, r, v, CLUSTER)
    for g, r in (("", "services"), ("discovery.k8s.io", "endpointslices"))
    for v in ("list", "watch")
}
JUDGED = ("virtualservers", "realservers")
DECLARED: dict[str, set[tuple[str, str, str, str]]] = {
    "operator": {
        *{(GROUP, plural, verb, CLUSTER) for plural in JUDGED for verb in ("get", "list", "watch", "patch")},
        *{(GROUP, f"{plural}/status", verb, CLUSTER) for plural in JUDGED for verb in ("get", "patch")},
        # LoadBalancer Services: the VirtualServers made for them, their status, VIPPools, namespace labels
        *{(GROUP, "virtualservers", verb, CLUSTER) for verb in ("create", "delete")},
        ("", "services/status", "patch", CLUSTER),
        *{(GROUP, "vippools", verb, CLUSTER) for verb in ("list", "watch")},
        (GROUP, "vippools/status", "patch", CLUSTER),
        *{("", "namespaces", verb, CLUSTER) for verb in ("list", "watch")},
        *{("", "nodes", verb, CLUSTER) for verb in ("get", "list", "watch")},
        *BACKENDS,
        ("", "events", "create", CLUSTER),
        # kopf: notices CRDs coming and going at run time; peering between replicas.
        ("apiextensions.k8s.io", "customresourcedefinitions", "list", CLUSTER),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch", CLUSTER),
        *{("kopf.dev", "clusterkopfpeerings", verb, CLUSTER) for verb in ("get", "list", "watch", "patch")},
    },
    "agent": {
        *{(GROUP, plural, verb, CLUSTER) for plural in JUDGED for verb in ("get", "list", "watch")},
        *{(GROUP, f"{plural}/status", "patch", CLUSTER) for plural in JUDGED},
        *{("", "nodes", verb, CLUSTER) for verb in ("get", "list", "watch")},
        *BACKENDS,
        ("", "events", "create", CLUSTER),
        *{
            ("coordination.k8s.io", "leases", verb, NAMESPACE)
            for verb in ("get", "list", "watch", "create", "update", "patch")
        },
    },
}

CODE: dict[str, tuple[str, ...]] = {
    "operator": ("controller", "commands/operator.py"),
    "agent": ("agent", "commands/agent.py"),
}

API_GROUPS = {
    "CoreV1Api": "",
    "CoordinationV1Api": "coordination.k8s.io",
    "DiscoveryV1Api": "discovery.k8s.io",
    "EventsV1Api": "events.k8s.io",
    "ApiextensionsV1Api": "apiextensions.k8s.io",
    "CustomObjectsApi": GROUP,
}
VERBS = {
    "read": "get",
    "get": "get",
    "list": "list",
    "create": "create",
    "replace": "update",
    "patch": "patch",
    "delete_collection": "deletecollection",
    "delete": "delete",
}
VERB_WORDS = {verb.split("_")[0] for verb in VERBS}
KOPF_READ_ONLY = {"on.event", "index"}
KOPF_ACTIVITIES = {"on.login", "on.startup", "on.cleanup", "on.probe"}
KOPF_EVENTS = {"event", "info", "warn", "exception"}


def _api_methods() -> dict[str, set[str]]:
    """Method name -> the client API classes that have it."""
    owners: dict[str, set[str]] = {}
    for class_name in dir(kubernetes.client):  # dir(), not vars(): the client imports its classes lazily
        cls = getattr(kubernetes.client, class_name)
        if class_name.endswith("Api") and inspect.isclass(cls) and class_name != "ApiClient":
            for method in vars(cls):
                public = not method.startswith("_") and not method.endswith("_with_http_info")
                if public and method.split("_")[0] in VERB_WORDS:
                    owners.setdefault(method, set()).add(class_name)
    return owners


API_METHODS = _api_methods()


def _client_call(
    method: str, classes: set[str], plurals: tuple[str, ...], watched: bool
) -> set[tuple[str, str, str]]:
    prefix = next(p for p in sorted(VERBS, key=len, reverse=True) if method.startswith(p + "_"))
    rest = method.removeprefix(prefix + "_")
    verbs = {VERBS[prefix]} | ({"watch"} if prefix == "list" and watched else set())
    rest = rest.replace("namespaced_", "").replace("cluster_", "").replace("_for_all_namespaces", "")
    subresource = ""
    if rest.endswith("_status"):
        rest, subresource = rest.removesuffix("_status"), "/status"
    unknown = classes - API_GROUPS.keys()
    assert not unknown, f"{method}: map API class {unknown} to its group in API_GROUPS"
    if rest == "custom_object":
        resources = [p + subresource for p in plurals]
    else:
        plural = rest.replace("_", "")
        resources = [(plural if plural.endswith("s") else plural + "s") + subresource]
    return {(API_GROUPS[c], r, v) for c in classes for r in resources for v in verbs}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _kopf_calls(tree: ast.AST) -> set[tuple[str, str, str]]:
    calls: set[tuple[str, str, str]] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _dotted(node.func).startswith("kopf.")):
            continue
        what = _dotted(node.func).removeprefix("kopf.")
        if what in KOPF_EVENTS:
            calls.add(("", "events", "create"))
        elif what in KOPF_ACTIVITIES:
            continue  # operator-wide hooks (login, startup...): no resource, no API call of their own
        elif what.startswith("on.") or what in {"index", "timer", "daemon"}:
            strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            group = GROUP if any(isinstance(a, ast.Name) and a.id == "GROUP" for a in node.args) else strings[0]
            plural = strings[-1]
            verbs = {"list", "watch"} | (set() if what in KOPF_READ_ONLY else {"patch"})
            calls |= {(group, plural, verb) for verb in verbs}
    return calls


def _attributes(tree: ast.AST, source: str) -> set[tuple[str, str]]:
    """(attribute, source of the innermost function that holds it, else the whole file)."""
    found: dict[str, str] = {}
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            holders = [s for s in scopes if s.lineno <= node.lineno <= (s.end_lineno or s.lineno)]
            inner = max(holders, key=lambda s: s.lineno, default=None)
            scope = (ast.get_source_segment(source, inner) or source) if inner is not None else source
            found.setdefault(f"{node.attr}\0{scope}", node.attr)
    return {(attribute, key.split("\0", 1)[1]) for key, attribute in found.items()}


def code_calls(component: str, source_root: Path) -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every API call the component's code makes."""
    files: list[Path] = []
    for entry in CODE[component]:
        path = source_root / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
    sources = {file: file.read_text() for file in files}
    # One module lists, another streams the list through kubernetes.watch: a list is a watch component-wide.
    watched = any("Watch(" in source or "watch=True" in source for source in sources.values())
    calls: set[tuple[str, str, str]] = set()
    for file, source in sources.items():
        tree = ast.parse(source)
        named = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
            n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
        }
        plurals = tuple(p for p in LVS_PLURALS if p in source) or LVS_PLURALS
        for attribute, scope in _attributes(tree, source):
            if attribute in API_METHODS:
                owners = API_METHODS[attribute]
                classes = (owners & named) or owners  # the API class the file names, if it names one
                calls |= _client_call(
                    attribute, classes, tuple(p for p in plurals if p in scope) or plurals, watched
                )
        calls |= _kopf_calls(tree)
        raw_paths = re.findall(r"[\"'](/apis?/[^\"']*)", source)
        assert not raw_paths, f"{file}: raw API paths {raw_paths}; call the client so this test sees them"
    return calls


def granted(rendered, component: str) -> set[tuple[str, str, str, str]]:
    """What the chart's roles bound to the component's ServiceAccount allow."""
    account = rendered.find("ServiceAccount", f"-{component}")["metadata"]["name"]
    grants: set[tuple[str, str, str, str]] = set()
    for binding_kind, role_kind, where in (
        ("ClusterRoleBinding", "ClusterRole", CLUSTER),
        ("RoleBinding", "Role", NAMESPACE),
    ):
        for binding in rendered.of_kind(binding_kind):
            if not any(s["kind"] == "ServiceAccount" and s["name"] == account for s in binding["subjects"]):
                continue
            role = rendered.find(role_kind, binding["roleRef"]["name"])
            if where == NAMESPACE:
                assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "kube-lvs"
            for rule in role["rules"]:
                grants |= {
                    (g, r, v, where) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
                }
    return grants


@pytest.mark.parametrize("component", ["operator", "agent"])
def test_roles_grant_exactly_what_is_declared(render, component) -> None:
    rendered = render()
    assert granted(rendered, component) == DECLARED[component]


def test_peering_rule_goes_when_peering_is_off(render) -> None:
    grants = granted(render({"operator": {"peering": {"enabled": False}}}), "operator")
    assert {g for g in grants if g[0] == "kopf.dev"} == set()
    assert grants == {g for g in DECLARED["operator"] if g[0] != "kopf.dev"}


@pytest.mark.parametrize("component", ["operator", "agent"])
def test_every_api_call_in_the_code_is_declared(repo_dir, component) -> None:
    calls = code_calls(component, repo_dir / "operator" / "kubelvs")
    declared = {(g, r, v) for g, r, v, _ in DECLARED[component]}
    missing = calls - declared
    assert not missing, f"the {component}'s code calls {sorted(missing)}: add RBAC rules to the chart and DECLARED"


def test_the_scan_sees_the_calls_already_written(repo_dir) -> None:
    """The scanner is not blind: calls known to exist in the code are found."""
    root = repo_dir / "operator" / "kubelvs"
    agent = code_calls("agent", root)
    assert ("coordination.k8s.io", "leases", "update") in agent
    assert {(GROUP, "virtualservers", "list"), (GROUP, "virtualservers", "watch"), ("", "nodes", "watch")} <= agent
    assert (GROUP, "realservers/status", "patch") in agent
    assert (GROUP, "virtualservers/status", "patch") in code_calls("operator", root)
    assert ("", "nodes", "watch") in code_calls("operator", root)
    assert ("", "events", "create") in code_calls("operator", root)


def test_rbac_has_no_wildcards_and_no_secrets(rendered) -> None:
    for role in rendered.of_kind("ClusterRole") + rendered.of_kind("Role"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(field, []), f"{role['metadata']['name']}: wildcard in {field}"
            assert "secrets" not in rule["resources"], f"{role['metadata']['name']} may read secrets"
            assert "nonResourceURLs" not in rule


def test_leases_are_granted_only_in_the_release_namespace(rendered) -> None:
    for role in rendered.of_kind("ClusterRole"):
        assert not any("leases" in rule["resources"] for rule in role["rules"]), role["metadata"]["name"]
    (role,) = [r for r in rendered.of_kind("Role") if any("leases" in x["resources"] for x in r["rules"])]
    assert role["metadata"]["namespace"] == "kube-lvs"
    assert role["metadata"]["name"].endswith("-agent")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "def f(api):\n    api.delete_namespaced_secret('x', 'ns')\n",
            {("", "secrets", "delete")},
            id="client-call",
        ),
        pytest.param(
            "from kubernetes import watch\ndef f(api):\n    watch.Watch().stream(api.list_node)\n",
            {("", "nodes", "list"), ("", "nodes", "watch")},
            id="client-watch",
        ),
        pytest.param(
            "import kopf\n@kopf.on.update('apps', 'v1', 'deployments')\ndef f(**_):\n    pass\n",
            {("apps", "deployments", v) for v in ("list", "watch", "patch")},
            id="kopf-handler",
        ),
    ],
)
def test_a_new_call_is_noticed(tmp_path, source, expected) -> None:
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "new.py").write_text(source)
    assert code_calls("agent", tmp_path) == expected
