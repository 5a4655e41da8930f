"""Parsers for option values that several commands take (not a command module: no ``register``).

Each turns a string from the command line into a typed value, or raises ``InputError`` naming
the flag, so the user sees the flag at fault and exit code 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_deploy.core.errors import InputError

if TYPE_CHECKING:
    from ota_deploy.fleet.options import FleetOptions


def parse_host_port(value: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host may be bracketed: ``[::1]:1883``) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"expected HOST:PORT, got {value!r}", key=flag)
    return host.strip("[]"), int(port)


def fleet_options_from_flags(**flags: Any) -> FleetOptions:
    """FleetOptions from behaviour flags (``fail_rate=...``; None means the default); a bad
    value is an InputError naming its flag. The fault shares together cannot exceed 1."""
    from pydantic import ValidationError

    from ota_deploy.fleet.options import FleetOptions

    total = sum(flags.get(k) or 0.0 for k in ("fail_rate", "reject_rate", "hang_rate"))
    if total > 1:
        raise InputError(
            f"--fail-rate + --reject-rate + --hang-rate must not exceed 1 (got {total:g})",
            key="--fail-rate",
        )
    try:
        return FleetOptions.model_validate({k: v for k, v in flags.items() if v is not None})
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "fleet"
        raise InputError(first["msg"], key="--" + field.replace("_", "-")) from None
