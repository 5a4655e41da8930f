"""botocore's bundled service models (``iot``, ``iot-jobs-data``), loaded once per process.

Both front ends of the local AWS IoT are driven by these models: ``local.http`` routes, parses,
validates and serialises from them, and ``local.iot.service`` reads each operation's required
members from them for transports that skip the HTTP validation (MQTT). Loading the ``iot``
model takes ~100 ms, so every user shares this one cache instead of each opening its own
``botocore.session``.
"""

from __future__ import annotations

from functools import cache

from botocore.model import ServiceModel
from botocore.session import get_session


@cache
def service_model(name: str) -> ServiceModel:
    """botocore's model of service ``name`` (``"iot"`` or ``"iot-jobs-data"``)."""
    return get_session().get_service_model(name)
