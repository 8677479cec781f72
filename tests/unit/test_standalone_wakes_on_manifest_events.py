"""The standalone agent is woken by inotify when a manifest changes, not by its safety-net poll.

The poll interval is made far longer than any test's wait here, so an edit that reaches the (in-memory)
kernel, or a stop that ends the loop, proves that the watch woke the agent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from reconciling import Node
from test_standalone_rereads_only_changed_manifests import obj, world, write

from kubelvs.agent import standalone
from kubelvs.agent.manifest_watch import ManifestWatch
from kubelvs.agent.options import StandaloneOptions as Options
from kubelvs.agent.standalone import StandaloneAgent

SAFETY_NET = 120.0  # the agent's poll interval in these tests: never reached
PATIENCE = 20.0  # how long a test waits for what an event should cause within milliseconds


def replace_by_rename(path: Path) -> None:
    write(path, world(weight=7))


def write_in_place(path: Path) -> None:
    path.write_text(path.read_text().replace("address: 10.9.0.9\n  weight: 1", "address: 10.9.0.9\n  weight: 7"))


def swap_configmap_data(path: Path) -> None:
    """What the kubelet does to a ConfigMap volume: a new timestamped directory, ``..data`` renamed onto it."""
    root = path.parent
    fresh = root / "..2026_11_26_new"
    fresh.mkdir()
    write(fresh / path.name, world(weight=7))
    (root / "..data_tmp").symlink_to(fresh.name)
    os.replace(root / "..data_tmp", root / "..data")


def configmap_volume(tmp_path: Path) -> Path:
    root = tmp_path / "volume"
    old = root / "..2026_11_26_old"
    old.mkdir(parents=True)
    write(old / "all.yaml", world())
    (root / "..data").symlink_to(old.name)
    (root / "all.yaml").symlink_to("..data/all.yaml")
    return root / "all.yaml"


def plain_file(tmp_path: Path) -> Path:
    path = tmp_path / "all.yaml"
    write(path, world())
    return path


def file_in_subdirectory(tmp_path: Path) -> Path:
    path = tmp_path / "manifests" / "team-a" / "all.yaml"
    path.parent.mkdir(parents=True)
    write(path, world())
    return path


class Served(NamedTuple):
    agent: StandaloneAgent
    node: Node
    thread: threading.Thread


@pytest.fixture
def no_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standalone, "WATCHED_POLL_INTERVAL", SAFETY_NET)


@pytest.fixture
def serving(no_polling: None) -> Iterator[Callable[[str], Served]]:
    started: list[Served] = []

    def start(manifests: str) -> Served:
        node = Node.new()
        options = Options((manifests,), "dir1", {}, (), None, 3600.0, 300.0, (0, 0, 0))
        agent = StandaloneAgent(options, node.kernel())
        thread = threading.Thread(target=agent.serve, daemon=True)
        thread.start()
        started.append(Served(agent, node, thread))
        wait_for(lambda: weight_of(node) == 1)
        return started[-1]

    yield start
    for served in started:
        served.agent.stop()
        served.thread.join(PATIENCE)


def weight_of(node: Node) -> int | None:
    weights = [d.weight for k, d in node.ipvs.dests.items() if k.address == "10.9.0.9"]
    return weights[0] if weights else None


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "not within the test's patience: the agent was not woken"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("layout", "watched", "edit"),
    [
        pytest.param(plain_file, lambda p: str(p), replace_by_rename, id="file-replaced-by-rename"),
        pytest.param(plain_file, lambda p: str(p), write_in_place, id="file-written-in-place"),
        pytest.param(plain_file, lambda p: str(p.parent), replace_by_rename, id="directory-file-replaced"),
        pytest.param(
            file_in_subdirectory, lambda p: str(p.parent.parent), write_in_place, id="file-in-a-subdirectory"
        ),
        pytest.param(configmap_volume, lambda p: str(p.parent), swap_configmap_data, id="configmap-data-swap"),
    ],
)
def test_an_edit_reaches_the_kernel_without_waiting_for_the_poll(
    serving: Callable[[str], Served],
    tmp_path: Path,
    layout: Callable[[Path], Path],
    watched: Callable[[Path], str],
    edit: Callable[[Path], None],
) -> None:
    path = layout(tmp_path)
    agent, node, _ = serving(watched(path))
    assert agent.watch is not None
    edit(path)
    wait_for(lambda: weight_of(node) == 7)


def test_a_new_subdirectory_is_watched_too(serving: Callable[[str], Served], tmp_path: Path) -> None:
    root = tmp_path / "manifests"
    first = root / "a" / "all.yaml"
    first.parent.mkdir(parents=True)
    write(first, world())
    _, node, _ = serving(str(root))
    later = root / "b" / "more.yaml"
    later.parent.mkdir()
    write(
        later,
        [
            obj("VirtualServer", "extra", address="192.0.2.100", port=81),
            obj("RealServer", "extra-1", virtualServer="extra", address="10.9.5.1"),
        ],
    )
    wait_for(lambda: any(k.port == 81 for k in node.ipvs.table))


def test_stop_ends_the_loop_without_waiting_for_the_poll(serving: Callable[[str], Served], tmp_path: Path) -> None:
    agent, _, thread = serving(str(plain_file(tmp_path)))
    agent.stop()
    thread.join(PATIENCE)
    assert not thread.is_alive()


def test_wait_reports_an_event_and_not_a_timeout(tmp_path: Path) -> None:
    path = plain_file(tmp_path)
    watch = ManifestWatch([str(path)])
    try:
        assert watch.wait(0.05) is False  # nothing happened
        replace_by_rename(path)
        assert watch.wait(PATIENCE) is True
        watch.wake()
        assert watch.wait(PATIENCE) is False  # woken, no event
    finally:
        watch.close()
