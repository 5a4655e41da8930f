"""Parsers for option values that several commands take (not a command module: no ``register``).

Each turns a string from the command line into a typed value, or raises ``InputError`` naming
the flag, so the user sees the flag at fault and exit code 2.
"""

from __future__ import annotations

from ota_deploy.core.errors import InputError


def parse_host_port(value: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host may be bracketed: ``[::1]:1883``) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"expected HOST:PORT, got {value!r}", key=flag)
    return host.strip("[]"), int(port)
