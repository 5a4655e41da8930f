"""Policy strings with variables: ``topic/${iot:ClientId}/*`` parsed once, rendered per
connection into wildcard pieces.

Data flow: ``policy.parse_policy_document`` turns every Resource/NotResource entry and every
string-like Condition value into a ``Template``; ``policy_eval.bind`` renders it with the
connection's ``PrincipalContext``: text written in the policy keeps its ``*``/``?`` wildcards,
substituted values are literal (so a client ID of ``*`` matches only ``*``), and an
unresolvable variable makes the whole string unresolvable (``None``).

Syntax, from IAM's policy-variables page
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html), which
AWS IoT follows ("AWS IoT Core policies ... follow the same conventions as IAM policies",
https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html;
https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-variables.html):

- ``${key}`` is replaced by the value of ``key`` from the request context; key names are
  case-insensitive.
- ``${key, 'default'}`` uses ``default`` when ``key`` has no value.
- ``${*}``, ``${?}``, ``${$}`` stand for a literal ``*``, ``?``, ``$``.
- Variables exist only with ``"Version": "2012-10-17"``; without it (or with ``2008-10-17``)
  ``${...}`` is literal text ("If you don't include the Version element and set it to an
  appropriate version date, variables like ${aws:username} are treated as literal strings").
- A key with no value cannot be substituted: "any attempt to match it fails".
- A multi-valued key cannot be substituted either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ota_deploy.local.auth.context import PrincipalContext
from ota_deploy.local.auth.wildcard import Piece

_ESCAPES = {"*": "*", "?": "?", "$": "$"}
# A key, possibly ending in a bracketed name (thing attribute names may hold , @ / : # --
# botocore's iot model, shape AttributeName: [a-zA-Z0-9_.,@/:#-]+), then an optional
# ", 'default'".
_VARIABLE = re.compile(r"\s*([^\s,{}'\[\]]+(?:\[[^\]]*\])?)\s*(?:,\s*'([^']*)'\s*)?")

WILD, LITERAL, VARIABLE = "wild", "literal", "variable"
Part = tuple[str, str, str | None]  # (kind, text or key, default)


@dataclass(frozen=True)
class Template:
    """A policy string split into wildcard text, literal text and variables."""

    source: str
    parts: tuple[Part, ...]

    @property
    def has_variables(self) -> bool:
        return any(kind == VARIABLE for kind, _, _ in self.parts)

    def render(self, context: PrincipalContext) -> list[Piece] | None:
        """Wildcard pieces with variables substituted; None if a variable has no value."""
        pieces: list[Piece] = []
        for kind, text, default in self.parts:
            if kind == VARIABLE:
                values = context.value(text)
                if values is not None and len(values) == 1:
                    pieces.append((values[0], False))
                elif default is not None:
                    pieces.append((default, False))
                else:
                    return None
            else:
                pieces.append((text, kind == WILD))
        return pieces

    def render_text(self, context: PrincipalContext) -> str | None:
        """The rendered string (wildcards kept as written), or None if unresolvable."""
        pieces = self.render(context)
        return None if pieces is None else "".join(text for text, _ in pieces)


@lru_cache(maxsize=8192)
def template(source: str, variables: bool = True) -> Template:
    """Parse ``source``; with ``variables`` False (a policy without Version 2012-10-17) the
    whole string is wildcard text."""
    if not variables or "${" not in source:
        return Template(source, ((WILD, source, None),))
    parts: list[Part] = []
    pos = 0
    while True:
        start = source.find("${", pos)
        if start < 0:
            break
        end = source.find("}", start + 2)
        if end < 0:
            break
        if start > pos:
            parts.append((WILD, source[pos:start], None))
        inner = source[start + 2 : end]
        match = _VARIABLE.fullmatch(inner)
        if inner in _ESCAPES:
            parts.append((LITERAL, _ESCAPES[inner], None))
        elif match is not None:
            parts.append((VARIABLE, match.group(1), match.group(2)))
        else:  # not a variable reference: keep the characters as written
            parts.append((WILD, source[start : end + 1], None))
        pos = end + 1
    if pos < len(source):
        parts.append((WILD, source[pos:], None))
    return Template(source, tuple(parts))
