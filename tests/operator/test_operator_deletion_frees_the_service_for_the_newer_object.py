"""Deleting the older of two conflicting VirtualServers hands the service to the newer one; nothing dangles."""

from __future__ import annotations

import time

import pytest
from conftest import condition, events, fetch, real_server, settled, virtual_server
from emulator import ApiError, wait_for

pytestmark = pytest.mark.usefixtures("operator")


def gone(api, plural, name):
    try:
        fetch(api, plural, name)
    except ApiError as error:
        return error.status == 404
    return False


@pytest.fixture(scope="module", autouse=True)
def conflict(api, operator):
    # Names sort the other way round, so only age can decide who keeps the service.
    api.create("virtualservers", virtual_server("zz-older", address="192.0.2.40"))
    settled(api, "virtualservers", "zz-older", "Accepted", "True")
    time.sleep(1.1)  # creationTimestamp has one-second resolution
    api.create("virtualservers", virtual_server("aa-newer", address="192.0.2.40"))
    api.create("realservers", real_server("older-1", "zz-older"))


def test_while_both_exist_the_older_keeps_the_service(api):
    newer = settled(api, "virtualservers", "aa-newer", "Accepted", "False", "ServiceConflict")
    assert "default/zz-older" in condition(newer, "Accepted")["message"]
    settled(api, "realservers", "older-1", "Accepted", "True")


def test_deleting_the_older_accepts_the_newer(api):
    api.delete("lvs.kubelvs.io/v1alpha1", "virtualservers", "default", "zz-older")

    assert wait_for(lambda: gone(api, "virtualservers", "zz-older")), "the finalizer was not removed"
    newer = settled(api, "virtualservers", "aa-newer", "Accepted", "True")
    assert condition(newer, "Stalled") is None
    assert wait_for(lambda: events(api, "VirtualServer", "aa-newer", "Accepted"))


def test_real_servers_of_the_deleted_service_are_rejected(api):
    orphan = settled(api, "realservers", "older-1", "Accepted", "False", "VirtualServerMissing")
    assert "'zz-older' does not exist" in condition(orphan, "Accepted")["message"]
    assert fetch(api, "virtualservers", "aa-newer")["status"]["totalRealServers"] == 0


def test_deleting_a_real_server_removes_it_and_its_finalizer(api):
    api.delete("lvs.kubelvs.io/v1alpha1", "realservers", "default", "older-1")
    assert wait_for(lambda: gone(api, "realservers", "older-1")), "the finalizer was not removed"
