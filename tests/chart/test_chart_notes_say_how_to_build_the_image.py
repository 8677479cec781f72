"""``helm install`` with the chart's placeholder image says no such image is published and how to build and point
the chart at one; with the user's own repository (or a digest) it says nothing of it."""

from __future__ import annotations

import pytest

NOTE = "no image is published as kubelvs/kubelvs:0.1.0"


def notes(helm_run, **values) -> str:
    out = helm_run("install", "--dry-run=client", "kubelvs", "charts/kubelvs", "-n", "kube-lvs", values=values)
    return out[out.index("NOTES:") :]


def test_placeholder_image_gets_the_build_steps(helm_run, monkeypatch, repo_dir) -> None:
    monkeypatch.chdir(repo_dir)
    text = notes(helm_run)
    assert NOTE in text
    assert "make image push IMAGE=registry.example.com/kubelvs TAG=0.1.0" in text
    assert "--set image.repository=registry.example.com/kubelvs --set image.tag=0.1.0" in text


@pytest.mark.parametrize(
    "image",
    [{"repository": "registry.example.com/kubelvs"}, {"digest": "sha256:" + "b" * 64}],
    ids=["own-repository", "digest"],
)
def test_an_image_of_ones_own_gets_no_note(helm_run, monkeypatch, repo_dir, image) -> None:
    monkeypatch.chdir(repo_dir)
    assert "no image is published" not in notes(helm_run, image=image)
