"""AWS IoT policy evaluation for the gateway: iot:Connect, Publish, Subscribe, Receive.

Data flow::

    at CONNECT:   bind(PrincipalContext(...), [PolicyDocument, ...]) -> ConnectionPolicy
                  (variables substituted, conditions evaluated, resource patterns compiled --
                  once, since everything they depend on is fixed for the connection)
    per packet:   policy.can_connect() / can_publish(topic) / can_subscribe(topic_filter)
                  / can_receive(topic) -> bool      (a few pattern matches, memoised)
    on change:    the gateway binds again when a policy version, an attachment or the
                  certificate's things change (AWS takes minutes; here it is immediate).

Rules, each from AWS's pages:

- Resources: ``iot:Connect`` on ``arn:aws:iot:REGION:ACCOUNT:client/CLIENTID``,
  ``iot:Publish``, ``iot:Receive`` and ``iot:RetainPublish`` on ``...:topic/TOPIC``,
  ``iot:Subscribe`` on ``...:topicfilter/FILTER``
  (https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html).
- Evaluation: "By default, all policies are implicitly denied. An explicit allow in any
  identity-based or resource-based policy overrides this default behavior. An explicit deny in
  any policy overrides any allows" -- all policies attached to the certificate count together
  (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html). The caller passes
  the default version of every policy attached to the certificate (and, to model AWS's thing
  groups, those attached to the groups of the connection's thing).
- Wildcards ``*`` and ``?``; ``+`` and ``#`` are literal characters in policies, so
  ``topicfilter/a/+`` allows subscribing to the filter ``a/+`` only
  (https://docs.aws.amazon.com/iot/latest/developerguide/pub-sub-policy.html; ``wildcard.py``).
- Variables (``template.py``, ``context.py``): a resource whose variable has no value matches
  nothing ("If the device certificate is not associated with the thing, this variable won't be
  resolved and will result in an access denied error" --
  https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-examples.html); a
  statement whose ``NotResource`` or negated condition cannot be resolved is void (IAM: an
  unresolvable variable "might cause the entire statement to be invalid",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html) --
  it neither allows nor denies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from ota_deploy.local.auth.conditions import Unresolvable, holds
from ota_deploy.local.auth.context import PrincipalContext
from ota_deploy.local.auth.policy import PolicyDocument, Statement, parse_policy_document
from ota_deploy.local.auth.template import WILD, Template
from ota_deploy.local.auth.wildcard import Piece, WildcardPattern

CONNECT = "iot:Connect"
PUBLISH = "iot:Publish"
RECEIVE = "iot:Receive"
SUBSCRIBE = "iot:Subscribe"
RETAIN_PUBLISH = "iot:RetainPublish"
RESOURCE_TYPES = {
    CONNECT: "client",
    PUBLISH: "topic",
    RECEIVE: "topic",
    RETAIN_PUBLISH: "topic",
    SUBSCRIBE: "topicfilter",
}
DECISION_CACHE_SIZE = 1024


class Decision(StrEnum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"  # a Deny statement matched
    IMPLICIT_DENY = "implicit-deny"  # no Allow statement matched

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


def resource_arn(
    resource_type: str, name: str, *, region: str, account: str, partition: str = "aws"
) -> str:
    """``arn:PARTITION:iot:REGION:ACCOUNT:TYPE/NAME`` (iot-action-resources.html)."""
    return f"arn:{partition}:iot:{region}:{account}:{resource_type}/{name}"


@lru_cache(maxsize=8192)
def _pattern(pieces: tuple[Piece, ...]) -> WildcardPattern:
    return WildcardPattern.compile(pieces)


def _resource_pattern(resource: Template, context: PrincipalContext) -> WildcardPattern | None:
    if len(resource.parts) == 1 and resource.parts[0][0] == WILD:
        return WildcardPattern.of(resource.source)  # no variables nor escapes
    pieces = resource.render(context)
    return None if pieces is None else _pattern(tuple(pieces))


@dataclass(frozen=True)
class BoundStatement:
    """A statement that applies to this connection, its resources compiled."""

    statement: Statement
    patterns: tuple[WildcardPattern, ...]

    @property
    def deny(self) -> bool:
        return self.statement.effect == "Deny"

    def applies(self, action: str, arn: str) -> bool:
        if not self.statement.action_applies(action):
            return False
        hit = any(p.matches(arn) for p in self.patterns)
        return hit != self.statement.not_resource


def bind_statement(statement: Statement, context: PrincipalContext) -> BoundStatement | None:
    """``statement`` compiled for ``context``, or None when it cannot apply to it (its
    conditions do not hold, none of its resources resolves, or it is void)."""
    try:
        if not holds(statement.conditions, context):
            return None
    except Unresolvable:
        return None
    patterns = [_resource_pattern(r, context) for r in statement.resources]
    if statement.not_resource and any(p is None for p in patterns):
        return None
    resolved = tuple(p for p in patterns if p is not None)
    if not resolved and not statement.not_resource:
        return None
    return BoundStatement(statement, resolved)


class ConnectionPolicy:
    """Every policy of one connection, bound to its context: answers allow/deny per request."""

    def __init__(self, context: PrincipalContext, statements: Iterable[BoundStatement]):
        self.context = context
        self.statements = tuple(statements)
        self._decisions: dict[tuple[str, str], Decision] = {}

    def arn(self, action: str, name: str) -> str:
        c = self.context
        return resource_arn(
            RESOURCE_TYPES[action], name, region=c.region, account=c.account, partition=c.partition
        )

    def decide_arn(self, action: str, arn: str) -> Decision:
        """Deny if any applicable statement denies; else allow if any allows; else deny."""
        allowed = False
        for bound in self.statements:
            if bound.applies(action, arn):
                if bound.deny:
                    return Decision.EXPLICIT_DENY
                allowed = True
        return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY

    def decide(self, action: str, name: str) -> Decision:
        """The decision for ``action`` on the resource named ``name`` (a client ID, topic or
        topic filter), memoised for the connection."""
        key = (action, name)
        found = self._decisions.get(key)
        if found is None:
            if len(self._decisions) >= DECISION_CACHE_SIZE:
                self._decisions.clear()
            found = self._decisions[key] = self.decide_arn(action, self.arn(action, name))
        return found

    def can_connect(self) -> bool:
        return self.decide(CONNECT, self.context.client_id).allowed

    def can_publish(self, topic: str) -> bool:
        return self.decide(PUBLISH, topic).allowed

    def can_retain_publish(self, topic: str) -> bool:
        return self.decide(RETAIN_PUBLISH, topic).allowed

    def can_subscribe(self, topic_filter: str) -> bool:
        return self.decide(SUBSCRIBE, topic_filter).allowed

    def can_receive(self, topic: str) -> bool:
        return self.decide(RECEIVE, topic).allowed


def bind(context: PrincipalContext, documents: Iterable[PolicyDocument | str]) -> ConnectionPolicy:
    """The connection's policy: the union of ``documents`` (parsed ``PolicyDocument`` or
    policy text), bound to ``context``."""
    bound: list[BoundStatement] = []
    for document in documents:
        doc = parse_policy_document(document) if isinstance(document, str) else document
        for statement in doc.statements:
            b = bind_statement(statement, context)
            if b is not None:
                bound.append(b)
    return ConnectionPolicy(context, bound)


def evaluate(
    context: PrincipalContext,
    documents: Iterable[PolicyDocument | str],
    action: str,
    resource_name: str,
) -> Decision:
    """One decision without keeping the binding (tests, the control plane's
    TestAuthorization-style questions)."""
    return bind(context, documents).decide(action, resource_name)
