"""Fifty-odd invalid objects in one manifest set with three valid DR services: the agent names every invalid
object and its field on stderr, programs exactly the valid services, and each valid VIP carries real HTTP."""

from __future__ import annotations

from pathlib import Path

from _fault_manifests import VALID_BACKENDS, VALID_VIPS, invalid, valid
from agentrun import agent, director, service_lines, table, write
from netns import LvsTopology


def test_each_invalid_object_is_named_with_its_field_and_the_valid_services_carry_traffic(
    lvs_factory, tmp_path: Path
) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=2)
    dir1, client = lvs.directors[0], lvs.client
    bad = invalid()
    assert len(bad) >= 50
    path = write(tmp_path / "set" / "all.yaml", [*valid()[:3], *(b.doc for b in bad), *valid()[3:]])
    for server in lvs.real_servers:
        server.http_server(80)
    for server in lvs.real_servers:  # the backends' agents: VIPs on lo for DR, despite the same findings
        agent(server, path, tmp_path, expect=1)

    errors = director(dir1, path, tmp_path, expect=1)
    lines = [line.removeprefix("error: ") for line in errors.splitlines() if line.startswith("error: ")]
    missing = []
    for case in bad:
        prefix = f"{path}: {case.obj}: {case.path}: "
        if not any(line.startswith(prefix) and all(word in line for word in case.words) for line in lines):
            missing.append(f"{prefix}... {case.words}")
    assert missing == [], "\n".join(missing) + "\n--- the agent said:\n" + errors
    named = {line.split(": ")[1] for line in lines}
    assert not {f"VirtualServer default/{name}" for name in VALID_VIPS} & named, named  # no valid one blamed

    services = [line for line in table(dir1).splitlines() if not line.startswith("->")]
    assert sorted(services) == sorted(f"TCP {vip}:80 rr" for vip in VALID_VIPS.values()), table(dir1)
    for name, vip in VALID_VIPS.items():
        lines_of = service_lines(dir1, f"TCP {vip}:80")
        assert len(lines_of) == 1 + len(VALID_BACKENDS[name]), lines_of  # no invalid RealServer slipped in
        answers = client.http_get(vip, 80, count=2 * len(VALID_BACKENDS[name]))
        assert set(answers) == VALID_BACKENDS[name], (name, answers)
