"""The reconciler's map diff (walk side by side, look up only where keys do not line up) equals the plain
diff that looks every key up, on random edits: values changed, keys replaced one for one, added, removed,
reordered; small maps and maps of many chunks."""

from __future__ import annotations

import random

import pytest

from kubelvs.agent.reconciler import _changes


def reference(old: dict[str, object], new: dict[str, object]) -> tuple[list[object], set[str]]:
    return [v for k, v in new.items() if k not in old or old[k] != v], set(old) - set(new)


def edited(old: dict[str, object], rng: random.Random) -> dict[str, object]:
    items = list(old.items())
    for _ in range(rng.randint(0, 12)):
        kind = rng.choice(["value", "replace", "add", "remove", "swap"])
        if kind == "value" and items:
            i = rng.randrange(len(items))
            items[i] = (items[i][0], object())
        elif kind == "replace" and items:
            items[rng.randrange(len(items))] = (f"new-{rng.random()}", object())
        elif kind == "add":
            items.insert(rng.randint(0, len(items)), (f"added-{rng.random()}", object()))
        elif kind == "remove" and items:
            items.pop(rng.randrange(len(items)))
        elif kind == "swap" and len(items) > 1:
            i, j = rng.randrange(len(items)), rng.randrange(len(items))
            items[i], items[j] = items[j], items[i]
    return dict(items)


@pytest.mark.parametrize("seed", range(200))
def test_the_walk_finds_what_a_lookup_of_every_key_finds(seed: int) -> None:
    rng = random.Random(seed)
    old: dict[str, object] = {
        f"k{i}": object() for i in range(rng.choice([rng.randint(0, 30), rng.randint(60, 400)]))
    }
    new = edited(old, rng)
    changed, removed = _changes(old, new)
    want_changed, want_removed = reference(old, new)
    assert removed == want_removed
    assert sorted(map(id, changed)) == sorted(map(id, want_changed))
