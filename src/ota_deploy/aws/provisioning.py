"""Real-AWS virtual devices for the simulated fleet: things, certificates, a policy, a group.

``provision`` (``ota-deploy fleet provision``) creates, for ``count`` things named
``{prefix}-{i:04d}``::

    CreateThingGroup(group)                      once
    CreatePolicy({prefix}-fleet-policy)          once, least privilege (see policy_document)
    per thing: CreateThing -> CreateKeysAndCertificate(setAsActive) -> AttachPolicy(cert)
               -> AttachThingPrincipal(thing, cert) -> AddThingToThingGroup

and writes into ``out_dir``: ``certs/<thing>.cert.pem`` and ``certs/<thing>.private.key``
(mode 0600), and, once every thing is made, ``things.txt`` (thing ARNs: a thing list for
``run``/``deploy`` and for ``fleet run``) and ``fleet.json``, the manifest ``destroy`` reads.
While it works it appends to ``fleet.jsonl`` (``aws.fleet_manifest``): each thing's intent is
on disk before its CreateThing, its ARN and certificate as soon as they are known, so an
interrupted provisioning can still be destroyed, at a cost of a line or two per thing.

``destroy`` reverses it: DetachThingPrincipal, DetachPolicy, UpdateCertificate(INACTIVE),
DeleteCertificate, DeleteThing per thing, then DeletePolicy and DeleteThingGroup -- the group
only if provision made it (a group the user already had, with their things in it, stays; the
manifest records which, and a log cut before that line is settled by the group's creation
date, as ``aws.iot_calls.made_since`` dates a run's own resources). Resources already gone are
skipped. AWS applies DetachThingPrincipal eventually
(https://docs.aws.amazon.com/iot/latest/apireference/API_DetachThingPrincipal.html), so
DeleteCertificate is retried a few times on DeleteConflictException.

The policy (``core.device_policy.policy_document``, re-exported here) is the same document the
``--tls`` devices of a local run get.

Every wait (throttling backoff, the DeleteCertificate retries) is the injected ``TimeSource``'s
``sleep`` (the wall clock, ``SystemClock``, without one).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ota_deploy.aws.fleet_manifest import (
    CERT_DIR,
    INTENT_BATCH,
    LOG,
    MANIFEST,
    THING_LIST,
    DeviceRecord,
    Manifest,
    ManifestLog,
    manifest_exists,
)
from ota_deploy.aws.iot_calls import made_since
from ota_deploy.aws.retry import call_aws, error_code
from ota_deploy.aws.session import AwsClients
from ota_deploy.core.clock import SystemClock, TimeSource
from ota_deploy.core.device_policy import policy_document
from ota_deploy.core.errors import AwsServiceError, InputError

__all__ = [
    "MANIFEST",
    "THING_LIST",
    "DeviceRecord",
    "Manifest",
    "describe_ats_endpoint",
    "destroy",
    "policy_document",
    "provision",
]

logger = logging.getLogger(__name__)

GONE = frozenset({"ResourceNotFoundException"})


class _Caller:
    """``call(operation, method, **params)``: ``method(**params)`` through ``call_aws``
    (throttling retries waiting on the time source, one clear error)."""

    def __init__(self, clock: TimeSource) -> None:
        self.clock = clock
        self.sleep = clock.sleep

    def __call__(self, operation: str, method: Callable[..., Any], **params: Any) -> Any:
        return call_aws(lambda: method(**params), operation, sleep=self.sleep)

    def ignore_gone(self, operation: str, method: Callable[..., Any], **params: Any) -> None:
        """A resource that is already gone is fine (destroy is idempotent)."""
        try:
            call_aws(lambda: method(**params), operation, sleep=self.sleep, passthrough=GONE)
        except ClientError as err:
            if error_code(err) not in GONE:
                raise


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def provision(
    clients: AwsClients,
    *,
    count: int,
    prefix: str,
    group: str,
    out_dir: Path,
    progress: Callable[[str], None] | None = None,
    clock: TimeSource | None = None,
    intent_batch: int = INTENT_BATCH,
) -> Manifest:
    """Create ``count`` things with certificates, the policy and the group; see module doc."""
    call = _Caller(clock or SystemClock())
    if count < 1:
        raise InputError("must be at least 1", key="--count")
    earlier = manifest_exists(out_dir)
    if earlier is not None:
        raise InputError(
            "a fleet manifest already exists here; destroy it first or choose another --out",
            file=str(earlier),
        )
    iot = clients.iot
    region = clients.target.region
    policy_name = f"{prefix}-fleet-policy"
    manifest = Manifest(
        region=region, prefix=prefix, group=group, policy=policy_name, started=call.clock.now()
    )
    log = ManifestLog.create(out_dir, manifest)  # names the group and the policy
    try:
        manifest.group_arn, manifest.group_created = _create_group(
            call, iot, group, manifest.started
        )
        log.record("group", arn=manifest.group_arn, created=manifest.group_created)
        account = str(manifest.group_arn).split(":")[4]
        document = json.dumps(policy_document(region, account))
        call("CreatePolicy", iot.create_policy, policyName=policy_name, policyDocument=document)
        batch = max(1, intent_batch)
        for first in range(0, count, batch):
            names = [f"{prefix}-{i:04d}" for i in range(first, min(count, first + batch))]
            log.intend(names)  # on disk before any of their CreateThing calls
            for name in names:
                _provision_device(call, iot, manifest, log, name, out_dir)
                if progress is not None:
                    progress(name)
        log.finish(manifest)  # fleet.json and things.txt, once; the log goes
    finally:
        log.close()
    return manifest


def _create_group(call: _Caller, iot: Any, group: str, started: float | None) -> tuple[str, bool]:
    """The group's ARN, and whether this provisioning made it. CreateThingGroup answers
    success for a group that exists with the same configuration (API_CreateThingGroup.html),
    so the group is looked up first: one already there is ours only when it dates from this
    provisioning (an earlier attempt of this very call), else the user's, which ``destroy``
    must leave."""
    found = _describe_group(call, iot, group)
    if found is None:
        try:
            arn: str = call("CreateThingGroup", iot.create_thing_group, thingGroupName=group)[
                "thingGroupArn"
            ]
            return arn, True
        except AwsServiceError as err:
            if err.code != "ResourceAlreadyExistsException":
                raise
            found = _describe_group(call, iot, group)  # made meanwhile: its date decides
            if found is None:
                raise
    created = (found.get("thingGroupMetadata") or {}).get("creationDate")
    return str(found["thingGroupArn"]), made_since(created, started)


def _describe_group(call: _Caller, iot: Any, group: str) -> dict[str, Any] | None:
    """DescribeThingGroup, None when there is no such group."""
    try:
        found: dict[str, Any] = call_aws(
            lambda: iot.describe_thing_group(thingGroupName=group),
            "DescribeThingGroup",
            sleep=call.sleep,
            passthrough=GONE,
        )
        return found
    except ClientError as err:
        if error_code(err) in GONE:
            return None
        raise


def _group_is_ours(call: _Caller, iot: Any, manifest: Manifest) -> bool:
    """Whether ``destroy`` removes the group: provision made it, or -- not recorded (a log cut
    short, an older manifest) -- it dates from the provisioning. Gone: nothing to remove."""
    if manifest.group_created is not None:
        return manifest.group_created
    found = _describe_group(call, iot, manifest.group)
    if found is None:
        return False
    created = (found.get("thingGroupMetadata") or {}).get("creationDate")
    return made_since(created, manifest.started)


def _provision_device(
    call: _Caller, iot: Any, manifest: Manifest, log: ManifestLog, name: str, out_dir: Path
) -> None:
    """One thing: CreateThing, its keys and certificate, the policy, the principal, the group;
    each answer recorded in the log before the next call."""
    arn = call("CreateThing", iot.create_thing, thingName=name)["thingArn"]
    dev = DeviceRecord(name=name, arn=arn)
    manifest.devices.append(dev)
    log.record("thing", name=name, arn=arn)
    cert = call("CreateKeysAndCertificate", iot.create_keys_and_certificate, setAsActive=True)
    dev.certificate_arn = cert["certificateArn"]
    dev.certificate_id = cert["certificateId"]
    dev.cert_file = f"{CERT_DIR}/{name}.cert.pem"
    dev.key_file = f"{CERT_DIR}/{name}.private.key"
    log.record(
        "cert",
        name=name,
        certificate_arn=dev.certificate_arn,
        certificate_id=dev.certificate_id,
        cert_file=dev.cert_file,
        key_file=dev.key_file,
    )
    _write_secret(out_dir / dev.cert_file, cert["certificatePem"])
    _write_secret(out_dir / dev.key_file, cert["keyPair"]["PrivateKey"])
    policy = manifest.policy
    call("AttachPolicy", iot.attach_policy, policyName=policy, target=dev.certificate_arn)
    call(
        "AttachThingPrincipal",
        iot.attach_thing_principal,
        thingName=name,
        principal=dev.certificate_arn,
    )
    call(
        "AddThingToThingGroup",
        iot.add_thing_to_thing_group,
        thingGroupName=manifest.group,
        thingName=name,
    )


def destroy(
    clients: AwsClients,
    *,
    out_dir: Path,
    progress: Callable[[str], None] | None = None,
    clock: TimeSource | None = None,
) -> Manifest:
    """Delete everything ``provision`` recorded in ``out_dir`` (its manifest, or the log of a
    provisioning that stopped part-way: a thing only intended is looked for and skipped when
    absent); files are removed too."""
    call = _Caller(clock or SystemClock())
    manifest = Manifest.load(out_dir)
    iot = clients.iot
    for dev in manifest.devices:
        cert_arn, cert_id = dev.certificate_arn, dev.certificate_id
        if cert_arn and cert_id:
            call.ignore_gone(
                "DetachThingPrincipal",
                iot.detach_thing_principal,
                thingName=dev.name,
                principal=cert_arn,
            )
            call.ignore_gone(
                "DetachPolicy", iot.detach_policy, policyName=manifest.policy, target=cert_arn
            )
            call.ignore_gone(
                "UpdateCertificate",
                iot.update_certificate,
                certificateId=cert_id,
                newStatus="INACTIVE",
            )
            _delete_certificate(iot, cert_id, call.sleep)
        call.ignore_gone("DeleteThing", iot.delete_thing, thingName=dev.name)
        for rel in (dev.cert_file, dev.key_file):
            if rel:
                (out_dir / rel).unlink(missing_ok=True)
        if progress is not None:
            progress(dev.name)
    call.ignore_gone("DeletePolicy", iot.delete_policy, policyName=manifest.policy)
    if _group_is_ours(call, iot, manifest):
        call.ignore_gone("DeleteThingGroup", iot.delete_thing_group, thingGroupName=manifest.group)
    else:
        logger.info("left thing group %s: it was there before fleet provision", manifest.group)
    for name in (MANIFEST, LOG, THING_LIST):
        (out_dir / name).unlink(missing_ok=True)
    cert_dir = out_dir / CERT_DIR
    if cert_dir.is_dir() and not any(cert_dir.iterdir()):
        cert_dir.rmdir()
    return manifest


def _delete_certificate(iot: Any, cert_id: str, sleep: Callable[[float], None]) -> None:
    """DeleteCertificate, waiting out the eventual consistency of the detach calls."""
    for attempt in range(6):
        try:
            call_aws(
                lambda: iot.delete_certificate(certificateId=cert_id),
                "DeleteCertificate",
                sleep=sleep,
                passthrough=GONE | {"DeleteConflictException", "CertificateStateException"},
            )
            return
        except ClientError as err:
            code = error_code(err)
            if code in GONE:
                return
            if attempt == 5:
                raise AwsServiceError(
                    f"AWS DeleteCertificate failed: {code}: certificate {cert_id} is still "
                    "attached",
                    code=code,
                    operation="DeleteCertificate",
                ) from None
            sleep(0.5 * 2**attempt)


def describe_ats_endpoint(clients: AwsClients, *, clock: TimeSource | None = None) -> str:
    """The account's ATS data endpoint host (``DescribeEndpoint(endpointType=iot:Data-ATS)``)."""
    call = _Caller(clock or SystemClock())
    out = call("DescribeEndpoint", clients.iot.describe_endpoint, endpointType="iot:Data-ATS")
    return str(out["endpointAddress"])
