"""keepalived checks each real server with its own checker; kube-lvs checks a VirtualServer's real servers
alike. The first checker wins and every difference is a warning on the line that differs."""

from __future__ import annotations

from kubelvs.formats import keepalived
from kubelvs.formats.notes import Level

CONFIG = """\
virtual_server 192.0.2.1 80
{
    lb_kind DR
    real_server 192.0.2.11 80 {
        inhibit_on_failure
        TCP_CHECK { connect_timeout 3 }
    }
    real_server 192.0.2.12 80
    {
        HTTP_GET {
            url { path /health }
        }
    }
}
"""


def test_first_checker_wins_and_differences_are_warned() -> None:
    converted = keepalived.convert(CONFIG, "k.conf", "default")
    notes = {(n.line, n.keyword, n.level) for n in converted.notes}
    assert (10, "HTTP_GET", Level.WARNING) in notes
    assert (1, "inhibit_on_failure", Level.WARNING) in notes
    vs = converted.documents[0].obj
    check = vs.spec.health_check  # type: ignore[union-attr]
    assert check is not None
    assert (check.type, check.connect_timeout, check.interval, check.on_failure) == ("tcp", 3.0, 60.0, "quiesce")


def test_braces_on_the_next_line_open_the_block() -> None:
    converted = keepalived.convert(CONFIG, "k.conf", "default")
    assert [d.obj.kind for d in converted.documents] == ["VirtualServer", "RealServer", "RealServer"]
    assert not [n for n in converted.notes if n.level == Level.ERROR]


def test_checker_settings_without_any_checker_are_warned() -> None:
    converted = keepalived.convert(
        "virtual_server 192.0.2.1 80 {\n  delay_loop 6\n  real_server 192.0.2.11 80 {\n  }\n}\n",
        "k.conf",
        "default",
    )
    assert (1, "delay_loop", Level.WARNING) in {(n.line, n.keyword, n.level) for n in converted.notes}
    assert converted.documents[0].obj.spec.health_check is None  # type: ignore[union-attr]
