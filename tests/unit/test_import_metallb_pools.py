"""``kubelvs import metallb``: IPAddressPools become VIPPools the operator accepts; what has no equal is a note,
and bad input is an error naming the pool, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from kubelvs.api.vip_pools import VIPPool
from kubelvs.formats.metallb import convert

POOLS = """
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: production, namespace: metallb-system}
spec:
  addresses: [192.168.10.0/24, 192.168.9.1-192.168.9.5, "fc00:f853:ccd:e799::/124"]
  autoAssign: false
  avoidBuggyIPs: true
  serviceAllocation:
    priority: 50
    namespaces: [shop, blog]
    serviceSelectors:
      - matchLabels: {tier: edge}
      - matchExpressions: [{key: team, operator: In, values: [a]}]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2, namespace: metallb-system}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: broken}
spec: {addresses: [192.168.1.1/24]}
"""


def test_pools_become_vip_pools_with_notes_for_the_rest() -> None:
    result = convert(POOLS)
    (pool,) = result.pools
    assert pool == {
        "apiVersion": "lvs.kubelvs.io/v1alpha1",
        "kind": "VIPPool",
        "metadata": {"name": "production"},
        "spec": {
            "addresses": ["192.168.10.1-192.168.10.254", "192.168.9.1-192.168.9.5", "fc00:f853:ccd:e799::/124"],
            "autoAssign": False,
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["shop", "blog"]}
                ]
            },
            "serviceSelector": {"matchLabels": {"tier": "edge"}},
        },
    }
    VIPPool.model_validate(pool, by_alias=True, by_name=False)
    said = [note.format("pools.yaml") for note in result.notes]
    assert any("priority 50 not mapped" in line for line in said), said
    assert any("serviceSelectors: only the first of 2 kept" in line for line in said), said
    assert any("L2Advertisement l2" in line and "not imported" in line for line in said), said
    assert any("error: IPAddressPool broken" in line and "host bits" in line for line in said), said


def test_the_command_prints_yaml_that_reads_back(tmp_path: Path) -> None:
    source = tmp_path / "pools.yaml"
    source.write_text(POOLS)
    done = subprocess.run(
        [sys.executable, "-m", "kubelvs.cli", "import", "metallb", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (pool,) = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert pool["kind"] == "VIPPool" and pool["metadata"] == {"name": "production"}
    assert "not imported" in done.stderr


def test_nothing_to_import_is_exit_1(tmp_path: Path) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text("kind: [unclosed\n")
    done = subprocess.run(
        [sys.executable, "-m", "kubelvs.cli", "import", "metallb", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "nothing imported" in done.stderr
