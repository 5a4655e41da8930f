"""AWS IoT policies and their versions, and which targets they are attached to.

Data flow::

    CreatePolicy / CreatePolicyVersion -> local.auth.parse_policy_document (MalformedPolicy...)
        -> records.policies (every version; the default one is what devices are held to)
    SetDefaultPolicyVersion / CreatePolicyVersion(setAsDefault) / attach / detach
        -> IdentityEvents.permissions_changed(certificates concerned) -> the gateway re-binds
    identity.DeviceIdentity.connection_policy <- documents_for(targets)

Attaching (AttachPolicy, DetachPolicy, ListAttachedPolicies) checks that the target exists,
which needs the certificate and thing stores: ``provisioning.Provisioning`` does that and calls
``attach`` / ``detach`` / ``attached_to`` here.

Rules, each from AWS's pages (quoted from botocore's ``iot`` model, which is the API
reference's text):

- CreatePolicy: "This operation creates a policy version with a version identifier of 1 and
  sets 1 as the policy's default version" (API_CreatePolicy.html). The document: "minimum
  length of 1, with a maximum length of 2048, excluding whitespace", IAM's grammar
  (``local.auth.policy``).
- CreatePolicyVersion: "A managed policy can have up to five versions. If the policy has five
  versions, you must use DeletePolicyVersion to delete an existing version before you create a
  new one" (VersionsLimitExceededException); ``setAsDefault`` makes the new version "the
  operative version (that is, the version that is in effect for the certificates to which the
  policy is attached)" (API_CreatePolicyVersion.html). Version ids count up and are never
  reused.
- DeletePolicyVersion: "You cannot delete the default version of a policy using this action"
  (DeleteConflictException, API_DeletePolicyVersion.html).
- DeletePolicy: "A policy cannot be deleted if it has non-default versions or it is attached to
  any certificate" (DeleteConflictException); "its default version is deleted with it"
  (API_DeletePolicy.html). Attached to a thing group counts as attached too.
- SetDefaultPolicyVersion: "This action affects all certificates to which the policy is
  attached" (API_SetDefaultPolicyVersion.html).
- ListPolicies: ``ascendingOrder`` "If true, the results are returned in ascending creation
  order" (API_ListPolicies.html).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ota_deploy.core.aws_model import documented
from ota_deploy.local.auth import AuthError, parse_policy_document
from ota_deploy.local.iot import pagination
from ota_deploy.local.iot.arns import Arns
from ota_deploy.local.iot.errors import already_exists, error, not_found
from ota_deploy.local.iot.identity_common import by_creation, from_auth, generation_id
from ota_deploy.local.iot.identity_events import IdentityEvents
from ota_deploy.local.iot.records import Policy, Records
from ota_deploy.local.iot.registry import dt

Handler = Callable[[dict[str, Any]], dict[str, Any]]
CERT_ARN_MARK = ":cert/"


def certificates_of(targets: list[str] | dict[str, None]) -> frozenset[str] | None:
    """The certificate ids among policy targets; None when a thing group is among them (its
    things' certificates: possibly any)."""
    ids: set[str] = set()
    for target in targets:
        if CERT_ARN_MARK not in target:
            return None
        ids.add(target.rsplit("/", 1)[-1])
    return frozenset(ids)


def _parse(document: str) -> None:
    try:
        parse_policy_document(document)
    except AuthError as exc:
        raise from_auth(exc) from None


class Policies:
    def __init__(
        self, arns: Arns, now: Callable[[], float], records: Records, events: IdentityEvents
    ) -> None:
        self.arns = arns
        self._now = now
        self.table: dict[str, Policy] = records.policies
        self._events = events

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreatePolicy": self.create_policy,
            "GetPolicy": self.get_policy,
            "DeletePolicy": self.delete_policy,
            "ListPolicies": self.list_policies,
            "CreatePolicyVersion": self.create_policy_version,
            "GetPolicyVersion": self.get_policy_version,
            "ListPolicyVersions": self.list_policy_versions,
            "SetDefaultPolicyVersion": self.set_default_policy_version,
            "DeletePolicyVersion": self.delete_policy_version,
            "ListTargetsForPolicy": self.list_targets_for_policy,
        }

    # ---- lookups ----------
    def policy(self, name: str) -> Policy:
        pol = self.table.get(name)
        if pol is None:
            not_found(f"Policy {name} cannot be found.")
        return pol

    @staticmethod
    def versions(pol: Policy) -> dict[str, dict[str, Any]]:
        """Every version of ``pol``, to read (a policy saved before versions existed has only
        its default one; reading never changes the record)."""
        if pol.versions:
            return pol.versions
        return {pol.version_id: {"document": pol.document, "created": pol.created}}

    @staticmethod
    def _own_versions(pol: Policy) -> dict[str, dict[str, Any]]:
        """``pol.versions`` made whole, to change."""
        if not pol.versions:
            pol.versions = {pol.version_id: {"document": pol.document, "created": pol.created}}
            pol.last_version = max(pol.last_version, int(pol.version_id))
        return pol.versions

    def _version(self, pol: Policy, version_id: str) -> dict[str, Any]:
        found = self.versions(pol).get(version_id)
        if found is None:
            not_found(f"Version {version_id} of policy {pol.name} cannot be found.")
        return found

    def _announce(self, pol: Policy) -> None:
        """The policy's operative document changed: its certificates must be re-bound."""
        if pol.targets:
            self._events.permissions_changed(certificates_of(pol.targets))

    # ---- attachments (targets checked by the caller) ----------
    def attach(self, pol: Policy, target: str) -> None:
        if target not in pol.targets:
            pol.targets[target] = None
            self._events.permissions_changed(certificates_of([target]))

    def detach(self, pol: Policy, target: str) -> None:
        if target in pol.targets:
            del pol.targets[target]
            self._events.permissions_changed(certificates_of([target]))

    def attached_to(self, target: str) -> list[Policy]:
        return [pol for pol in self.table.values() if target in pol.targets]

    def documents_for(self, targets: list[str]) -> list[str]:
        """The default version's document of every policy attached to any of ``targets``,
        each policy once."""
        wanted = set(targets)
        return [pol.document for pol in self.table.values() if wanted.intersection(pol.targets)]

    # ---- policies ----------
    def create_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        name, document = p["policyName"], p["policyDocument"]
        if name in self.table:
            already_exists(f"Policy {name} already exists.", name, self.table[name].arn)
        _parse(document)
        now = self._now()
        pol = Policy(
            name=name,
            arn=self.arns.policy(name),
            document=document,
            created=now,
            updated=now,
            versions={"1": {"document": document, "created": now}},
        )
        self.table[name] = pol
        return {
            "policyName": name,
            "policyArn": pol.arn,
            "policyDocument": document,
            "policyVersionId": pol.version_id,
        }

    def get_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        return {
            "policyName": pol.name,
            "policyArn": pol.arn,
            "policyDocument": pol.document,
            "defaultVersionId": pol.version_id,
            "creationDate": dt(pol.created),
            "lastModifiedDate": dt(pol.updated),
            "generationId": generation_id(pol.updated, int(pol.version_id)),
        }

    def delete_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        if pol.targets:
            raise error(
                "DeleteConflictException",
                f"Policy {pol.name} is attached to {len(pol.targets)} target(s); detach it first.",
            )
        others = [v for v in self.versions(pol) if v != pol.version_id]
        if others:
            raise error(
                "DeleteConflictException",
                f"Policy {pol.name} has non-default versions ({', '.join(others)}); delete them "
                "with DeletePolicyVersion first.",
            )
        del self.table[pol.name]
        return {}

    def list_policies(self, p: dict[str, Any]) -> dict[str, Any]:
        ascending = bool(p.get("ascendingOrder"))
        ordered = by_creation(self.table.values(), lambda pol: pol.created, ascending)
        chunk, marker = pagination.page(
            ordered, f"ListPolicies:{ascending}", p.get("marker"), p.get("pageSize")
        )
        out: dict[str, Any] = {
            "policies": [{"policyName": pol.name, "policyArn": pol.arn} for pol in chunk]
        }
        if marker:
            out["nextMarker"] = marker
        return out

    # ---- versions ----------
    def create_policy_version(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        document = p["policyDocument"]
        _parse(document)
        versions = self._own_versions(pol)
        limit = documented("policy_versions_max")
        if len(versions) >= limit:
            raise error(
                "VersionsLimitExceededException",
                f"Policy {pol.name} already has {limit} versions; delete one with "
                "DeletePolicyVersion first.",
            )
        now = self._now()
        pol.last_version += 1
        version_id = str(pol.last_version)
        versions[version_id] = {"document": document, "created": now}
        default = bool(p.get("setAsDefault"))
        if default:
            self._make_default(pol, version_id, now)
        return {
            "policyArn": pol.arn,
            "policyDocument": document,
            "policyVersionId": version_id,
            "isDefaultVersion": default,
        }

    def _make_default(self, pol: Policy, version_id: str, now: float) -> None:
        pol.version_id = version_id
        pol.document = self.versions(pol)[version_id]["document"]
        pol.updated = now
        self._announce(pol)

    def get_policy_version(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        version_id = p["policyVersionId"]
        version = self._version(pol, version_id)
        created = float(version["created"])
        return {
            "policyArn": pol.arn,
            "policyName": pol.name,
            "policyDocument": version["document"],
            "policyVersionId": version_id,
            "isDefaultVersion": version_id == pol.version_id,
            "creationDate": dt(created),
            "lastModifiedDate": dt(created),
            "generationId": generation_id(created, int(version_id)),
        }

    def list_policy_versions(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        versions = self.versions(pol)
        ids = sorted(versions, key=int)
        return {
            "policyVersions": [
                {
                    "versionId": v,
                    "isDefaultVersion": v == pol.version_id,
                    "createDate": dt(float(versions[v]["created"])),
                }
                for v in ids
            ]
        }

    def set_default_policy_version(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        version_id = p["policyVersionId"]
        self._version(pol, version_id)
        if version_id != pol.version_id:
            self._make_default(pol, version_id, self._now())
        return {}

    def delete_policy_version(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        version_id = p["policyVersionId"]
        self._version(pol, version_id)
        if version_id == pol.version_id:
            raise error(
                "DeleteConflictException",
                f"Version {version_id} is the default version of policy {pol.name}; delete the "
                "policy with DeletePolicy, or make another version the default first.",
            )
        del self._own_versions(pol)[version_id]
        return {}

    def list_targets_for_policy(self, p: dict[str, Any]) -> dict[str, Any]:
        pol = self.policy(p["policyName"])
        chunk, marker = pagination.page(
            list(pol.targets),
            f"ListTargetsForPolicy:{pol.name}",
            p.get("marker"),
            p.get("pageSize"),
        )
        out: dict[str, Any] = {"targets": chunk}
        if marker:
            out["nextMarker"] = marker
        return out
