"""The Condition element of AWS IoT policies: parsed and checked at CreatePolicy, evaluated
once per connection.

Data flow: ``parse_condition_block(obj)`` (called by ``policy.parse_policy_document``) turns
``{"StringEquals": {"iot:Connection.Thing.ThingTypeName": "sensor"}, ...}`` into
``Condition`` records, raising ``MalformedPolicyException`` for an unknown operator or a value
the operator cannot read; ``holds(conditions, context)`` evaluates them against a
``PrincipalContext``.

Semantics, from IAM's pages (AWS IoT policies "follow the same conventions as IAM policies",
https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html):

- Operators: String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress/NotIpAddress, Arn*,
  Null; ``...IfExists``; ``ForAllValues:`` / ``ForAnyValue:`` for multi-valued keys
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
  AWS IoT's own examples use Bool on ``iot:Connection.Thing.IsAttached``, StringEquals on thing
  attributes and type, IpAddress on ``aws:SourceIp`` and ``ForAllValues:StringEquals`` on
  ``iot:ConnectAttributes`` (thing-policy-examples.html, basic-policy-variables.html,
  connect-policy.html in the AWS IoT developer guide).
- Several operators, or several keys under one operator: all must hold. Several values for
  one key: any may match (for a negated operator: none may match).
- A key missing from the context: the condition is false; for a negated operator it is true;
  ``...IfExists`` is true; ``ForAllValues`` is true and ``ForAnyValue`` false; ``Null`` tests
  for exactly that ("If the key that you specify in a policy condition is not present in the
  request context, the values do not match and the condition is false. If the policy condition
  requires that the key is not matched, such as StringNotLike ..., the condition is true").
- Policy variables are substituted in String, Arn and Bool values only. A value whose variable
  has no value never matches; under a negated operator that makes the statement invalid
  ("If AWS cannot resolve a variable, this might cause the entire statement to be invalid",
  reference_policies_variables.html), reported here as ``Unresolvable``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import eq, ge, gt, le, lt
from typing import Any

from ota_deploy.local.auth.context import PrincipalContext
from ota_deploy.local.auth.errors import MALFORMED_POLICY, AuthError
from ota_deploy.local.auth.template import Template, template
from ota_deploy.local.auth.wildcard import WildcardPattern

STRING_LIKE = {"StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"}
TEMPLATED = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "Bool",
} | STRING_LIKE
# Negated operator -> the positive operator it negates.
NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnLike",  # "ArnNotEquals and ArnNotLike behave identically"
    "ArnNotLike": "ArnLike",
}
_ORDER: dict[str, Callable[[float, float], bool]] = {
    "Equals": eq,
    "LessThan": lt,
    "LessThanEquals": le,
    "GreaterThan": gt,
    "GreaterThanEquals": ge,
}
POSITIVE = (
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnLike", "ArnEquals"}
    | {f"Numeric{k}" for k in _ORDER}
    | {f"Date{k}" for k in _ORDER}
    | {"Bool", "BinaryEquals", "IpAddress"}
)
OPERATORS = POSITIVE | set(NEGATED) | {"Null"}
QUALIFIERS = ("ForAllValues", "ForAnyValue")


class Unresolvable(Exception):
    """A negated condition's value names a variable without a value: the statement is void."""


def _malformed(message: str) -> AuthError:
    return AuthError(MALFORMED_POLICY, f"Policy document is malformed: {message}")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _date(text: str) -> float | None:
    """Seconds since the epoch from ISO 8601 or an epoch number (IAM's date formats)."""
    number = _number(text)
    if number is not None:
        return number
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _scalar(value: Any) -> str | None:
    """A condition value as IAM reads it: strings, numbers and booleans, as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return str(value)
    return None


@dataclass(frozen=True)
class Condition:
    """One key under one operator, with the policy's values for it."""

    operator: str  # as written, e.g. "ForAllValues:StringLike"
    base: str  # the operator without qualifier or IfExists, e.g. "StringLike"
    qualifier: str | None
    if_exists: bool
    key: str
    values: tuple[str, ...]
    templates: tuple[Template, ...]  # for String/Arn/Bool operators


def _split_operator(operator: str) -> tuple[str, str | None, bool]:
    qualifier = None
    name = operator
    if ":" in name:
        qualifier, _, name = name.partition(":")
        if qualifier not in QUALIFIERS:
            raise _malformed(f"unknown condition set operator '{qualifier}' in '{operator}'")
    if_exists = name.endswith("IfExists") and name != "IfExists"
    base = name[: -len("IfExists")] if if_exists else name
    if base not in OPERATORS or (if_exists and base == "Null"):
        raise _malformed(f"unknown condition operator '{operator}'")
    return base, qualifier, if_exists


def _check_value(base: str, text: str, operator: str) -> None:
    positive = NEGATED.get(base, base)
    bad = (
        (positive.startswith("Numeric") and _number(text) is None)
        or (positive.startswith("Date") and _date(text) is None)
        or (positive == "IpAddress" and _network(text) is None)
        or (base == "Null" and text.lower() not in ("true", "false"))
    )
    if positive == "BinaryEquals":
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            bad = True
    if bad:
        raise _malformed(f"'{text}' is not a valid value for {operator}")


def parse_condition_block(block: Any, *, variables: bool) -> tuple[Condition, ...]:
    """The ``Condition`` element of one statement, validated."""
    if not isinstance(block, dict):
        raise _malformed("Condition must be an object")
    conditions: list[Condition] = []
    for operator, keys in block.items():
        base, qualifier, if_exists = _split_operator(operator)
        if not isinstance(keys, dict) or not keys:
            raise _malformed(f"{operator} must map condition keys to values")
        for key, raw in keys.items():
            items = raw if isinstance(raw, list) else [raw]
            values = tuple(_scalar(v) for v in items)
            if any(v is None for v in values):
                raise _malformed(f"{operator} {key}: values must be strings, numbers or booleans")
            texts = tuple(v for v in values if v is not None)
            for text in texts:
                _check_value(base, text, operator)
            templates = tuple(template(t, variables) for t in texts) if base in TEMPLATED else ()
            conditions.append(
                Condition(operator, base, qualifier, if_exists, key, texts, templates)
            )
    return tuple(conditions)


def _matcher(cond: Condition, context: PrincipalContext) -> Callable[[str], bool]:
    """A test of one context value against the condition's values (the positive operator)."""
    positive = NEGATED.get(cond.base, cond.base)
    negated = cond.base in NEGATED
    if cond.templates:
        rendered = [t.render(context) for t in cond.templates]
        if negated and any(r is None for r in rendered):
            raise Unresolvable(cond.key)
        pieces = [r for r in rendered if r is not None]
        if positive in STRING_LIKE:
            patterns = [WildcardPattern.compile(p) for p in pieces]
            return lambda v: any(p.matches(v) for p in patterns)
        texts = ["".join(text for text, _ in p) for p in pieces]
        if positive == "StringEquals":
            return lambda v: v in texts
        folded = [t.casefold() for t in texts]  # StringEqualsIgnoreCase, Bool
        return lambda v: v.casefold() in folded
    if positive.startswith(("Numeric", "Date")):
        read = _number if positive.startswith("Numeric") else _date
        compare = _ORDER[positive.removeprefix("Numeric").removeprefix("Date")]
        limits = [read(v) for v in cond.values]

        def ordered(v: str) -> bool:
            got = read(v)
            return got is not None and any(lim is not None and compare(got, lim) for lim in limits)

        return ordered
    if positive == "IpAddress":
        networks = [_network(v) for v in cond.values]

        def inside(v: str) -> bool:
            try:
                address = ipaddress.ip_address(v)
            except ValueError:
                return False
            return any(n is not None and address in n for n in networks)

        return inside
    return lambda v: v in cond.values  # BinaryEquals: base64 text, byte for byte


def _holds(cond: Condition, context: PrincipalContext) -> bool:
    found = context.value(cond.key)
    if cond.base == "Null":
        absent = found is None or len(found) == 0
        return any((v.lower() == "true") == absent for v in cond.values)
    negated = cond.base in NEGATED
    if found is None:
        if cond.if_exists or cond.qualifier == "ForAllValues":
            return True
        if cond.qualifier == "ForAnyValue":
            return False
        return negated
    test = _matcher(cond, context)
    per_value: Callable[[str], bool] = (lambda v: not test(v)) if negated else test
    if cond.qualifier == "ForAllValues":
        return all(per_value(v) for v in found)
    if cond.qualifier == "ForAnyValue":
        return any(per_value(v) for v in found)
    return (not any(test(v) for v in found)) if negated else any(test(v) for v in found)


def holds(conditions: Iterable[Condition], context: PrincipalContext) -> bool:
    """Whether every condition holds. Raises ``Unresolvable`` for a void statement."""
    return all(_holds(c, context) for c in conditions)
