"""HOST:PORT parsing: the one parser behind the config, --listen, --serve and --http."""

from __future__ import annotations

import pytest

from telephony.hostport import parse_host_port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        (" 0.0.0.0:5038 ", ("0.0.0.0", 5038)),
        ("pbx.example:0", ("pbx.example", 0)),
        ("[::1]:9090", ("::1", 9090)),
    ],
)
def test_good_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("foo", "'foo' is not HOST:PORT"),
        (":5038", "':5038' is not HOST:PORT"),
        ("host:", "'host:' is not HOST:PORT"),
        ("host:http", "'host:http' is not HOST:PORT"),
        ("ho st:80", "'ho st:80' is not HOST:PORT"),
        ("::1:80", "put an IPv6 address in brackets"),
        ("[nope]:80", "'nope' is not an IPv6 address"),
        ("host:70000", "70000 is not a valid port (0..65535)"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r".*") as caught:
        parse_host_port(text)
    assert reason in str(caught.value)


def test_port_zero_can_be_refused() -> None:
    with pytest.raises(ValueError, match=r"0 is not a valid port \(1\.\.65535\)"):
        parse_host_port("127.0.0.1:0", allow_zero=False)
