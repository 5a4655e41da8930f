"""AWS IoT policy documents: validated as CreatePolicy / CreatePolicyVersion validate them,
compiled once per policy version.

Data flow: the control plane calls ``parse_policy_document(text)`` on CreatePolicy and
CreatePolicyVersion; a document AWS would refuse raises ``AuthError``
(``MalformedPolicyException``, the one document error botocore's ``iot`` model lists for both
operations), a good one becomes a ``PolicyDocument`` (cached by text, so attaching the same
version to many certificates parses it once) that ``policy_eval.bind`` evaluates.

The grammar is IAM's (AWS IoT policies "follow the same conventions as IAM policies",
https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html; IAM grammar:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html):

- a JSON object with ``Statement`` (one statement object or a non-empty list of them), an
  optional ``Version`` (``2012-10-17``, or the older ``2008-10-17`` without policy variables,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html)
  and an optional ``Id``;
- each statement: ``Effect`` ``Allow`` or ``Deny``; exactly one of ``Action`` / ``NotAction``;
  exactly one of ``Resource`` / ``NotResource`` (AWS IoT's examples use ``NotResource``,
  https://docs.aws.amazon.com/iot/latest/developerguide/pub-sub-policy.html); an optional
  ``Condition`` and ``Sid`` (unique within the document). ``Principal`` / ``NotPrincipal`` are
  refused: AWS IoT policies are attached to principals, not written for them;
- actions are ``*`` or ``service:name`` (wildcards allowed in the name); resources are ``*``
  or ARNs (``arn:partition:service:region:account:resource``), wildcards anywhere
  (https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html: "All
  resource ARNs are of the following form: arn:aws:iot:region:AWS-account-ID:Resource-type/
  Resource-name");
- size: "policyDocument must have a minimum length of 1, with a maximum length of 2048,
  excluding whitespace"
  (https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicy.html,
  API_CreatePolicyVersion.html; ``core.aws_model.documented("policy_document_chars_max")``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from ota_deploy.core.aws_model import documented
from ota_deploy.local.auth.conditions import Condition, parse_condition_block
from ota_deploy.local.auth.errors import MALFORMED_POLICY, AuthError
from ota_deploy.local.auth.template import Template, template
from ota_deploy.local.auth.wildcard import WildcardPattern

VERSION_WITH_VARIABLES = "2012-10-17"
VERSIONS = (VERSION_WITH_VARIABLES, "2008-10-17")
DOCUMENT_KEYS = {"Version", "Id", "Statement"}
STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_ACTION = re.compile(r"[A-Za-z0-9_-]+:[A-Za-z0-9_*?-]+")
_WHITESPACE = re.compile(r"\s+")


def _malformed(message: str) -> AuthError:
    return AuthError(MALFORMED_POLICY, f"Policy document is malformed: {message}")


@dataclass(frozen=True)
class Statement:
    """One statement, with its action patterns compiled (resources depend on variables and
    are compiled per connection by ``policy_eval``)."""

    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[Template, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]
    sid: str | None
    action_patterns: tuple[WildcardPattern, ...]

    def action_applies(self, action: str) -> bool:
        hit = any(p.matches(action) for p in self.action_patterns)
        return hit != self.not_action


@dataclass(frozen=True)
class PolicyDocument:
    """A validated policy document."""

    text: str
    version: str | None
    statements: tuple[Statement, ...]

    @property
    def variables(self) -> bool:
        """Whether ``${...}`` are policy variables (Version 2012-10-17) or literal text."""
        return self.version == VERSION_WITH_VARIABLES


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _string_list(statement: dict[str, Any], key: str, index: int) -> tuple[str, ...]:
    raw = statement[key]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _malformed(f"Statement {index}: {key} must not be empty")
    if not all(isinstance(item, str) and item for item in items):
        raise _malformed(f"Statement {index}: {key} must be a string or a list of strings")
    return tuple(items)


def _check_action(action: str, index: int) -> None:
    if action != "*" and not _ACTION.fullmatch(action):
        raise _malformed(f"Statement {index}: '{action}' is not an action (service:name or *)")


def _check_resource(resource: str, index: int) -> None:
    if resource == "*":
        return
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        raise _malformed(f"Statement {index}: '{resource}' is not a resource ARN or *")


def _one_of(statement: dict[str, Any], a: str, b: str, index: int) -> str:
    present = [k for k in (a, b) if k in statement]
    if len(present) != 1:
        raise _malformed(f"Statement {index}: exactly one of {a} and {b} is required")
    return present[0]


def _statement(raw: Any, index: int, variables: bool) -> Statement:
    if not isinstance(raw, dict):
        raise _malformed(f"Statement {index} must be an object")
    if "Principal" in raw or "NotPrincipal" in raw:
        raise _malformed(f"Statement {index}: an AWS IoT policy must not specify a principal")
    unknown = sorted(set(raw) - STATEMENT_KEYS)
    if unknown:
        raise _malformed(f"Statement {index}: unknown element {unknown[0]}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _malformed(f"Statement {index}: Effect must be Allow or Deny")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _malformed(f"Statement {index}: Sid must be a string")
    action_key = _one_of(raw, "Action", "NotAction", index)
    actions = _string_list(raw, action_key, index)
    for action in actions:
        _check_action(action, index)
    resource_key = _one_of(raw, "Resource", "NotResource", index)
    resources = _string_list(raw, resource_key, index)
    for resource in resources:
        _check_resource(resource, index)
    conditions = (
        parse_condition_block(raw["Condition"], variables=variables) if "Condition" in raw else ()
    )
    return Statement(
        effect=effect,
        actions=actions,
        not_action=action_key == "NotAction",
        resources=tuple(template(r, variables) for r in resources),
        not_resource=resource_key == "NotResource",
        conditions=conditions,
        sid=sid,
        action_patterns=tuple(WildcardPattern.of(a, ignore_case=True) for a in actions),
    )


def _size_check(text: str) -> None:
    size = len(_WHITESPACE.sub("", text))
    limit = documented("policy_document_chars_max")
    if size < 1:
        raise _malformed("the document is empty")
    if size > limit:
        raise _malformed(
            f"the document has {size} characters excluding whitespace; at most {limit} are allowed"
        )


@lru_cache(maxsize=1024)
def parse_policy_document(text: str) -> PolicyDocument:
    """Validate and compile one policy document (CreatePolicy / CreatePolicyVersion's
    ``policyDocument``). Raises ``AuthError(MalformedPolicyException)``."""
    if not isinstance(text, str):
        raise _malformed("the document must be a JSON string")
    _size_check(text)
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _malformed(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _malformed("the document must be a JSON object")
    unknown = sorted(set(doc) - DOCUMENT_KEYS)
    if unknown:
        raise _malformed(f"unknown element {unknown[0]}")
    version = doc.get("Version")
    if version is not None and version not in VERSIONS:
        raise _malformed(f"Version must be one of {', '.join(VERSIONS)}")
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise _malformed("Id must be a string")
    if "Statement" not in doc:
        raise _malformed("Statement is required")
    raw = doc["Statement"]
    raws = raw if isinstance(raw, list) else [raw]
    if not raws:
        raise _malformed("Statement must not be empty")
    variables = version == VERSION_WITH_VARIABLES
    statements = tuple(_statement(s, i, variables) for i, s in enumerate(raws))
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise _malformed("Sid values must be unique within a policy")
    return PolicyDocument(text=text, version=version, statements=statements)
