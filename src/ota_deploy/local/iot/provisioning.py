"""Device identity in the control plane: the certificate, CA-certificate and policy stores, the
rules that span them, thing principals, and the ``DeviceAuthority`` the gateway asks.

Data flow::

    LocalIotService.call("iot", op, params) -> handlers() -> one of:
        certificates.Certificates    CreateKeysAndCertificate, Register*, Update/Describe/List
        certificates_ca.CaCertificates  RegisterCACertificate, GetRegistrationCode, ...
        policies.Policies            CreatePolicy, versions, GetPolicy, ListPolicies, ...
        this module                  DeleteCertificate, AttachPolicy, DetachPolicy,
                                     ListAttachedPolicies, thing principals (they need more
                                     than one store)
    every change -> identity_events.IdentityEvents -> the gateway's listener
    gateway -> self.authority (identity.DeviceIdentity)

What ``fleet provision`` (``aws.provisioning``) calls -- CreateThingGroup, CreatePolicy,
CreateThing, CreateKeysAndCertificate(setAsActive), AttachPolicy, AttachThingPrincipal,
AddThingToThingGroup, DescribeEndpoint, and for ``destroy`` DetachThingPrincipal, DetachPolicy,
UpdateCertificate(INACTIVE), DeleteCertificate, DeleteThing, DeletePolicy, DeleteThingGroup --
all answer here (or in the registry) as AWS does.

Rules, each from AWS's pages:

- DeleteCertificate: "A certificate cannot be deleted if it has a policy or IoT thing attached
  to it or if its status is set to ACTIVE" (CertificateStateException for ACTIVE,
  DeleteConflictException for attachments); ``forceDelete`` "Forces the deletion of a
  certificate if it is inactive and is not attached to an IoT thing" -- its policies are
  detached (API_DeleteCertificate.html).
- AttachPolicy: "The identity to which the policy is attached. For example, a thing group or a
  certificate" (API_AttachPolicy.html); a target that does not exist is
  ResourceNotFoundException. DetachPolicy lists no ResourceNotFoundException: detaching what is
  not attached succeeds. ListAttachedPolicies takes a certificate or thing-group ARN;
  ``recursive`` adds the policies of the group's ancestors (API_ListAttachedPolicies.html).
- AttachThingPrincipal: EXCLUSIVE_THING "Attaches the specified principal to the specified
  thing, exclusively. The thing will be the only thing that's attached to the principal";
  NON_EXCLUSIVE_THING (the default) lets several things share it
  (API_AttachThingPrincipal.html, https://docs.aws.amazon.com/iot/latest/developerguide/
  attach-thing-principal.html: an exclusive certificate "cannot be associated with any other
  things"). Breaking that is InvalidRequestException.
- ListThingPrincipals / ListPrincipalThings (and their V2 forms, which add the attachment
  type) page with ``nextToken`` / ``maxResults`` as botocore's model has them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ota_deploy.local.auth import LocalCa
from ota_deploy.local.iot import pagination
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.certificates import ACTIVE, Certificates
from ota_deploy.local.iot.certificates_ca import CaCertificates
from ota_deploy.local.iot.errors import error, invalid
from ota_deploy.local.iot.identity import DeviceIdentity
from ota_deploy.local.iot.identity_events import IdentityEvents
from ota_deploy.local.iot.policies import Policies
from ota_deploy.local.iot.records import Certificate, Records, Thing
from ota_deploy.local.iot.registry import Registry

Handler = Callable[[dict[str, Any]], dict[str, Any]]
EXCLUSIVE, NON_EXCLUSIVE = "EXCLUSIVE_THING", "NON_EXCLUSIVE_THING"


class Provisioning:
    def __init__(
        self,
        arns: Arns,
        registry: Registry,
        now: Callable[[], float],
        records: Records,
        *,
        ca: LocalCa | None = None,
    ) -> None:
        self.arns = arns
        self.registry = registry
        self.events = IdentityEvents()
        registry.identity_events = self.events
        self.cas = CaCertificates(arns, now, records, self.events)
        self.certificates = Certificates(arns, now, records, self.events, self.cas, ca)
        self.policies = Policies(arns, now, records, self.events)
        self.authority = DeviceIdentity(
            arns=arns,
            certificates=self.certificates,
            cas=self.cas,
            policies=self.policies,
            registry=registry,
            events=self.events,
        )

    def handlers(self) -> dict[str, Handler]:
        return {
            **self.certificates.handlers(),
            **self.cas.handlers(),
            **self.policies.handlers(),
            "DeleteCertificate": self.delete_certificate,
            "AttachPolicy": self.attach_policy,
            "DetachPolicy": self.detach_policy,
            "ListAttachedPolicies": self.list_attached_policies,
            "AttachThingPrincipal": self.attach_thing_principal,
            "DetachThingPrincipal": self.detach_thing_principal,
            "ListThingPrincipals": self.list_thing_principals,
            "ListThingPrincipalsV2": self.list_thing_principals_v2,
            "ListPrincipalThings": self.list_principal_things,
            "ListPrincipalThingsV2": self.list_principal_things_v2,
        }

    # ---- certificates ----------
    def delete_certificate(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.certificates.cert(p["certificateId"])
        if c.status == ACTIVE:
            raise error(
                "CertificateStateException",
                f"Certificate {c.certificate_id} is ACTIVE; deactivate it (UpdateCertificate) "
                "before deleting it.",
            )
        if c.things:
            raise error(
                "DeleteConflictException",
                f"Certificate {c.certificate_id} is attached to thing(s) "
                f"{', '.join(c.things)}; detach them (DetachThingPrincipal) first.",
            )
        attached = self.policies.attached_to(c.arn)
        if attached and not p.get("forceDelete"):
            raise error(
                "DeleteConflictException",
                f"Certificate {c.certificate_id} has policies attached "
                f"({', '.join(pol.name for pol in attached)}); detach them or use forceDelete.",
            )
        for pol in attached:
            self.policies.detach(pol, c.arn)
        self.certificates.remove(c)
        return {}

    # ---- policy attachments ----------
    def _check_target(self, target: str) -> str | None:
        """Raise unless ``target`` is an existing certificate or thing group; the group's name
        for a group."""
        if ":cert/" in target:
            self.certificates.by_principal(target)
            return None
        if ":thinggroup/" in target:
            return self.registry.group(target.rsplit("/", 1)[-1]).name
        invalid(
            f"Target {target} is neither a certificate ARN nor a thing group ARN; the local "
            "AWS IoT attaches policies to those only."
        )

    def attach_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policies.policy(p["policyName"])
        self._check_target(p["target"])
        self.policies.attach(pol, p["target"])
        return {}

    def detach_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policies.table.get(p["policyName"])
        if pol is not None:
            self.policies.detach(pol, p["target"])
        return {}

    def list_attached_policies(self, p: dict[str, Any]) -> dict[str, Any]:
        target = p["target"]
        group = self._check_target(target)
        targets = [target]
        if group is not None and p.get("recursive"):
            targets += [self.registry.groups[g].arn for g in self.registry.ancestors(group)[1:]]
        seen: dict[str, dict[str, str]] = {}
        for t in targets:
            for pol in self.policies.attached_to(t):
                seen.setdefault(pol.name, {"policyName": pol.name, "policyArn": pol.arn})
        chunk, marker = pagination.page(
            list(seen.values()),
            f"ListAttachedPolicies:{target}:{bool(p.get('recursive'))}",
            p.get("marker"),
            p.get("pageSize"),
        )
        return {"policies": chunk, **({"nextMarker": marker} if marker else {})}

    # ---- thing principals ----------
    @staticmethod
    def _type(c: Certificate, thing: str) -> str:
        return EXCLUSIVE if c.exclusive_thing == thing else NON_EXCLUSIVE

    def attach_thing_principal(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = self.registry.thing(p["thingName"])
        c = self.certificates.by_principal(p["principal"])
        kind = p.get("thingPrincipalType") or NON_EXCLUSIVE
        if c.exclusive_thing is not None and c.exclusive_thing != thing.name:
            invalid(
                f"Certificate {c.certificate_id} is attached exclusively to thing "
                f"{c.exclusive_thing}; it cannot be attached to {thing.name}."
            )
        others = [t for t in c.things if t != thing.name]
        if kind == EXCLUSIVE and others:
            invalid(
                f"Certificate {c.certificate_id} is attached to other things "
                f"({', '.join(others)}); it cannot be attached exclusively to {thing.name}."
            )
        c.exclusive_thing = thing.name if kind == EXCLUSIVE else None
        thing.principals[p["principal"]] = None
        c.things[thing.name] = None
        self.events.permissions_changed(frozenset({c.certificate_id}))
        return {}

    def detach_thing_principal(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = self.registry.thing(p["thingName"])
        thing.principals.pop(p["principal"], None)
        c = self.certificates.get(p["principal"].rsplit("/", 1)[-1])
        if c is not None and thing.name in c.things:
            del c.things[thing.name]
            if c.exclusive_thing == thing.name:
                c.exclusive_thing = None
            self.events.permissions_changed(frozenset({c.certificate_id}))
        return {}

    def _principals_of(self, thing: Thing, kind: str | None) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for principal in thing.principals:
            c = self.certificates.get(principal.rsplit("/", 1)[-1])
            found = NON_EXCLUSIVE if c is None else self._type(c, thing.name)
            if kind is None or kind == found:
                out.append((principal, found))
        return out

    def _page(
        self, items: list[Any], scope: str, p: dict[str, Any]
    ) -> tuple[list[Any], dict[str, str]]:
        chunk, token = pagination.page(items, scope, p.get("nextToken"), p.get("maxResults"))
        return chunk, ({"nextToken": token} if token else {})

    def list_thing_principals(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = self.registry.thing(p["thingName"])
        chunk, more = self._page(list(thing.principals), f"ListThingPrincipals:{thing.name}", p)
        return {"principals": chunk, **more}

    def list_thing_principals_v2(self, p: dict[str, Any]) -> dict[str, Any]:
        thing = self.registry.thing(p["thingName"])
        kind = p.get("thingPrincipalType")
        items = self._principals_of(thing, kind)
        chunk, more = self._page(items, f"ListThingPrincipalsV2:{thing.name}:{kind}", p)
        objects = [{"principal": pr, "thingPrincipalType": k} for pr, k in chunk]
        return {"thingPrincipalObjects": objects, **more}

    def list_principal_things(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.certificates.by_principal(p["principal"])
        chunk, more = self._page(list(c.things), f"ListPrincipalThings:{c.certificate_id}", p)
        return {"things": chunk, **more}

    def list_principal_things_v2(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.certificates.by_principal(p["principal"])
        kind = p.get("thingPrincipalType")
        items = [(t, self._type(c, t)) for t in c.things]
        items = [(t, k) for t, k in items if kind is None or k == kind]
        chunk, more = self._page(items, f"ListPrincipalThingsV2:{c.certificate_id}:{kind}", p)
        objects = [{"thingName": t, "thingPrincipalType": k} for t, k in chunk]
        return {"principalThingObjects": objects, **more}
