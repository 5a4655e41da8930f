"""Small pieces the certificate, CA-certificate and policy stores share.

- ``from_auth``: ``local.auth``'s ``AuthError`` (CertificateValidationException,
  MalformedPolicyException, ...) as the control plane's ``AwsError``, HTTP status from
  botocore's model.
- ``by_creation``: the order ``ListCertificates``, ``ListCACertificates`` and ``ListPolicies``
  answer in. Their ``ascendingOrder`` member: "If True, the results are returned in ascending
  order, based on the creation date" (botocore's ``iot`` model, API_ListCertificates.html,
  API_ListPolicies.html), so without it the newest come first. Ties (same clock reading) keep
  insertion order, so paging is stable.
- ``generation_id``: the ``generationId`` member DescribeCertificate / GetPolicy return; it
  changes whenever the record does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from ota_deploy.local.auth import AuthError
from ota_deploy.local.contracts import AwsError
from ota_deploy.local.iot.errors import error

T = TypeVar("T")


def from_auth(err: AuthError) -> AwsError:
    return error(err.code, err.message)


def by_creation(items: Iterable[T], created: Callable[[T], float], ascending: bool) -> list[T]:
    ordered = list(items)
    if ascending:
        return sorted(ordered, key=created)  # stable: equal times keep insertion order
    return [x for _, x in sorted(enumerate(ordered), key=lambda ix: (-created(ix[1]), ix[0]))]


def generation_id(updated: float, version: int = 1) -> str:
    return f"{int(updated * 1000)}-{version}"
