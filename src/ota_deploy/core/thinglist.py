"""The thing list: which things and thing groups a job targets.

Format (the manual's thingList.txt): one target per line, either an IoT thing ARN
``arn:aws:iot:REGION:ACCOUNT:thing/NAME``, a thing-group ARN ``...:thinggroup/NAME``, or a bare
thing name (made into a thing ARN of the configured account and region). Blank lines and ``#``
comments (whole-line or trailing) are ignored; a duplicate target is dropped with a warning; a
bad line is an ``InputError`` naming the file and line number, quoting the line as an excerpt
(``core.errors.excerpt``: a 10 MB line is not echoed whole). An empty list is an error.

Data flow: text -> ``parse_thing_list`` (pure; used by tests and property tests) -> ``ThingList``;
``read_thing_list`` only adds reading the file (``core.textfile``). Names follow AWS's
thing-name rule ([a-zA-Z0-9:_-]+, 1-128): https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ota_deploy.core.errors import InputError, excerpt
from ota_deploy.core.limits import ACCOUNT_RE, REGION_RE, check_thing_name
from ota_deploy.core.textfile import read_user_text

_ARN_RE = re.compile(
    r"arn:(?P<partition>aws[-a-z]*):iot:(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<kind>[^/]*)/(?P<name>.*)"
)


@dataclass(frozen=True)
class ThingList:
    """Targets in file order, duplicates removed."""

    thing_arns: tuple[str, ...]
    group_arns: tuple[str, ...]
    warnings: list[str] = field(default_factory=list, compare=False)

    @property
    def thing_names(self) -> tuple[str, ...]:
        return tuple(arn.rsplit("/", 1)[1] for arn in self.thing_arns)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(arn.rsplit("/", 1)[1] for arn in self.group_arns)

    @property
    def target_arns(self) -> tuple[str, ...]:
        """Things then groups (each kind in file order); ``targets`` of CreateJob."""
        return self.thing_arns + self.group_arns


def thing_arn(name: str, *, account: str, region: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iot:{region}:{account}:thing/{name}"


def _parse_line(
    text: str, *, source: str, line: int, account: str, region: str, warnings: list[str]
) -> tuple[str, str]:
    """(kind, arn) of one non-empty line; kind is "thing" or "thinggroup"."""

    def bad(reason: str) -> InputError:
        shown = excerpt(text)
        return InputError(f"bad thing list entry {shown!r}: {reason}", file=source, line=line)

    if not text.startswith("arn:"):
        if text.lower().startswith("arn:"):
            raise bad("an ARN must start with lowercase 'arn:'")
        reason = check_thing_name(text)
        if reason:
            raise bad(reason + "; expected a thing ARN, thing-group ARN or thing name")
        return "thing", thing_arn(text, account=account, region=region)
    match = _ARN_RE.fullmatch(text)
    if match is None:
        raise bad(
            "not an AWS IoT ARN like arn:aws:iot:REGION:ACCOUNT:thing/NAME "
            "or arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME"
        )
    kind = match.group("kind")
    if kind not in ("thing", "thinggroup"):
        raise bad(f"resource type {excerpt(kind)!r} is neither 'thing' nor 'thinggroup'")
    if not REGION_RE.fullmatch(match.group("region")):
        raise bad(f"region {excerpt(match.group('region'))!r} is not an AWS region name")
    if not ACCOUNT_RE.fullmatch(match.group("account")):
        raise bad(f"account {excerpt(match.group('account'))!r} is not a 12-digit AWS account id")
    reason = check_thing_name(match.group("name"))
    if reason:
        raise bad(reason)
    if match.group("region") != region:
        warnings.append(
            f"{source}:{line}: {excerpt(text)} is in region {match.group('region')}, "
            f"not the configured {region}; AWS will reject it as a job target"
        )
    elif match.group("account") != account:
        warnings.append(
            f"{source}:{line}: {excerpt(text)} belongs to account {match.group('account')}, "
            f"not {account}; AWS will reject it as a job target"
        )
    return kind, text


def parse_thing_list(text: str, *, source: str, account: str, region: str) -> ThingList:
    """Parse a thing list's text (``source`` names it in messages)."""
    things: list[str] = []
    groups: list[str] = []
    seen: dict[str, int] = {}
    warnings: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        kind, arn = _parse_line(
            entry,
            source=source,
            line=number,
            account=account,
            region=region,
            warnings=warnings,
        )
        if arn in seen:
            shown = excerpt(arn)
            warnings.append(f"{source}:{number}: duplicate of line {seen[arn]} ({shown}); dropped")
            continue
        seen[arn] = number
        (things if kind == "thing" else groups).append(arn)
    if not things and not groups:
        raise InputError(
            "thing list is empty: list thing ARNs, thing-group ARNs or thing names, one per line",
            file=source,
        )
    return ThingList(thing_arns=tuple(things), group_arns=tuple(groups), warnings=warnings)


def read_thing_list(path: Path, *, account: str, region: str) -> ThingList:
    """Read and parse the thing list at ``path``; ``InputError`` (file, line) when bad."""
    text = read_user_text(path, "thing list")
    return parse_thing_list(text, source=str(path), account=account, region=region)
