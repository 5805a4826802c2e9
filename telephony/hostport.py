"""``HOST:PORT`` text → (host, port): the one parser for every listen/connect address.

Used by the config (`[http] listen`), `hotline simulate --listen`, `hotline replay --serve` and
`hotline demo --http`. IPv6 hosts go in brackets (``[::1]:8080``) and come back without them.
A wrong address raises :class:`ValueError` whose message quotes the text and says what is wrong;
callers prefix it with where the text came from (``--listen``, ``config [http].listen``).
"""

from __future__ import annotations

import ipaddress

_EXAMPLE = "like '127.0.0.1:8080'"


def parse_host_port(text: str, *, allow_zero: bool = True) -> tuple[str, int]:
    """``host:port`` → (host, port); port 0 (any free port) unless ``allow_zero`` is False."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"{text!r} is not HOST:PORT ({_EXAMPLE})")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"{text!r}: put an IPv6 address in brackets, like '[::1]:8080'")
    if any(c.isspace() for c in host):
        raise ValueError(f"{text!r} is not HOST:PORT ({_EXAMPLE})")
    port = int(port_text)
    low = 0 if allow_zero else 1
    if not low <= port <= 65535:
        raise ValueError(f"{text!r}: {port_text} is not a valid port ({low}..65535)")
    return host, port


__all__ = ["parse_host_port"]
