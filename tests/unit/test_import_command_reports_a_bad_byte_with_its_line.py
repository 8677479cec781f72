"""``kubelvs import`` reads bytes: a byte that is not UTF-8 is a note with its line, not a decode traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs import cli


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        pytest.param("keepalived", b"virtual_server 192.0.2.1 80 {\n lb_algo rr \xff\n}\n", id="keepalived"),
        pytest.param("ipvsadm", b"-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 10.0.0.1 \xfe\n", id="ipvsadm"),
    ],
)
def test_a_bad_byte_is_named_and_the_rest_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, data: bytes
) -> None:
    path = tmp_path / "input"
    path.write_bytes(data)
    assert cli.main(["import", fmt, str(path)]) == 0
    captured = capsys.readouterr()
    assert f"{path}:2: error: encoding: byte 0x" in captured.err
    assert "address: 192.0.2.1" in captured.out
