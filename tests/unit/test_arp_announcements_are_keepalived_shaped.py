"""The bytes of a gratuitous ARP request and an unsolicited neighbour advertisement."""

from __future__ import annotations

import pytest

from kubelvs.kernel import arp

MAC = bytes.fromhex("02aabbccdd01")


def test_gratuitous_arp_is_a_broadcast_request_for_the_vip_from_it() -> None:
    frame = arp.arp_announcement(MAC, "192.0.2.100")
    vip = bytes([192, 0, 2, 100])
    assert len(frame) == 60  # padded to the Ethernet minimum
    assert frame[:14] == b"\xff" * 6 + MAC + b"\x08\x06"
    assert frame[14:22] == bytes.fromhex("0001 0800 06 04 0001")  # Ethernet/IPv4, request
    assert frame[22:42] == MAC + vip + b"\xff" * 6 + vip  # sender = target = VIP
    assert frame[42:] == bytes(18)


def test_unsolicited_na_overrides_and_carries_the_target_mac() -> None:
    message = arp.neighbour_advertisement(MAC, "2001:db8:1::100")
    assert message[:4] == bytes([136, 0, 0, 0])  # type NA, code 0, checksum left to the kernel
    assert message[4:8] == bytes.fromhex("20000000")  # Override only: not Solicited, not Router
    assert message[8:24] == bytes.fromhex("20010db8000100000000000000000100")
    assert message[24:] == bytes([2, 1]) + MAC  # target link-layer address option, 8 bytes


@pytest.mark.parametrize(
    ("build", "address", "mac"),
    [
        pytest.param(arp.arp_announcement, "2001:db8::1", MAC, id="v6-in-arp"),
        pytest.param(arp.neighbour_advertisement, "192.0.2.1", MAC, id="v4-in-na"),
        pytest.param(arp.arp_announcement, "192.0.2.1", MAC[:4], id="short-mac"),
    ],
)
def test_wrong_input_is_refused(build, address: str, mac: bytes) -> None:
    with pytest.raises(ValueError):
        build(mac, address)
