"""Who is asking: the request context an AWS IoT policy is evaluated against.

Data flow: at MQTT CONNECT the gateway builds one ``PrincipalContext`` from the TLS
handshake (certificateId), the CONNECT packet (client id, connect attributes), the socket
(source IP) and the registry (the things attached to the certificate, with their type and
attributes). ``value(key)`` answers condition keys and policy variables from it; everything in
it is fixed for the life of the connection, which is why ``policy_eval.bind`` can resolve
variables and conditions once per connection.

Keys (case-insensitive, as IAM key names are:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):

- ``iot:ClientId``: the client ID of the connection
  (https://docs.aws.amazon.com/iot/latest/developerguide/basic-policy-variables.html).
- ``aws:SourceIp``: the client's IP address, when the caller supplies it (same page).
- ``iot:Connection.Thing.ThingName`` / ``.ThingTypeName`` / ``.Attributes[NAME]``: the thing
  the connection is associated with; ``.IsAttached``: ``"true"`` when there is one, else
  ``"false"`` (https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html).
  The connection's thing is the attached thing whose name equals the client ID; failing that,
  the thing the certificate is attached to exclusively ("If the client ID matches a thing name
  in the registry ... AWS IoT Core associates the client connection with the thing. If the
  client ID doesn't match ..., you can attach the X.509 certificate exclusively to a thing to
  establish this association" --
  https://docs.aws.amazon.com/iot/latest/developerguide/exclusive-thing.html). Without such a
  thing the ThingName, ThingTypeName and Attributes keys are absent (a thing without a type has
  no ThingTypeName; a missing attribute is absent).
- ``iot:ConnectAttributes``: multi-valued (``PersistentConnect``, ``LastWill``...), as the
  connect-policy examples use it with ``ForAllValues`` / ``ForAnyValue``
  (https://docs.aws.amazon.com/iot/latest/developerguide/connect-policy.html).
- ``extra``: any further keys the caller provides (e.g. ``iot:Certificate.Subject.CommonName``).

An absent key is ``None``: the policy evaluator then applies IAM's rules for keys missing from
the request context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ota_deploy.core.defaults import DEFAULT_REGION, LOCAL_ACCOUNT

THING_PREFIX = "iot:connection.thing."
ATTRIBUTES_PREFIX = "iot:connection.thing.attributes["


@dataclass(frozen=True)
class ThingFacts:
    """What the registry says of a thing attached to the certificate."""

    name: str
    type_name: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PrincipalContext:
    """The facts of one connection that policies may refer to."""

    client_id: str
    certificate_id: str | None = None
    things: Mapping[str, ThingFacts] = field(default_factory=dict)  # attached to the cert
    exclusive_thing: str | None = None  # attached with thingPrincipalType EXCLUSIVE_THING
    region: str = DEFAULT_REGION
    account: str = LOCAL_ACCOUNT
    partition: str = "aws"
    source_ip: str | None = None
    connect_attributes: tuple[str, ...] | None = None
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def thing(self) -> ThingFacts | None:
        """The thing this connection is associated with, if any (see the module docstring)."""
        found = self.things.get(self.client_id)
        if found is None and self.exclusive_thing is not None:
            found = self.things.get(self.exclusive_thing)
        return found

    def value(self, key: str) -> tuple[str, ...] | None:
        """The value(s) of condition key / policy variable ``key``, or None if absent."""
        low = key.lower()
        if low == "iot:clientid":
            return (self.client_id,)
        if low == "aws:sourceip":
            return None if self.source_ip is None else (self.source_ip,)
        if low == "iot:connectattributes":
            return self.connect_attributes
        if low.startswith(THING_PREFIX):
            return self._thing_value(key, low)
        for name, values in self.extra.items():
            if name.lower() == low:
                return values
        return None

    def _thing_value(self, key: str, low: str) -> tuple[str, ...] | None:
        thing = self.thing
        if low == "iot:connection.thing.isattached":
            return ("true" if thing is not None else "false",)
        if thing is None:
            return None
        if low == "iot:connection.thing.thingname":
            return (thing.name,)
        if low == "iot:connection.thing.thingtypename":
            return None if thing.type_name is None else (thing.type_name,)
        if low.startswith(ATTRIBUTES_PREFIX) and low.endswith("]"):
            attribute = key[len(ATTRIBUTES_PREFIX) : -1]
            found = thing.attributes.get(attribute)
            return None if found is None else (found,)
        return None
