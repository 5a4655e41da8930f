"""Request routing for AWS REST-JSON services, built from botocore's service models.

Each operation's ``http`` trait (``method``, ``requestUri``) becomes a ``Route``: the path part
split into literal segments, ``{label}`` segments (one path segment) and a trailing
``{label+}`` greedy segment (the rest of the path, slashes included); a query part in the URI
(``/x?verb`` or ``/x?k=v``) becomes a required query-string literal. ``Router.match`` takes the
raw (still percent-encoded) path, so an encoded ``%2F`` inside a label stays inside that label,
as botocore encodes non-greedy labels with ``safe=''``.

When several routes fit (a literal ``/jobs/$next`` and a label ``/jobs/{jobId}``), the most
specific wins: literal segments beat labels, labels beat greedy labels, and a route with query
literals beats one without -- the way API Gateway front ends resolve AWS REST APIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel

_LITERAL, _LABEL, _GREEDY = 0, 1, 2


@dataclass(frozen=True)
class Segment:
    kind: int  # _LITERAL, _LABEL or _GREEDY
    text: str  # the literal text, or the label name


@dataclass(frozen=True)
class Route:
    method: str
    segments: tuple[Segment, ...]
    query: tuple[tuple[str, str | None], ...]  # required query literals: (key, value or None)
    operation: str

    @property
    def specificity(self) -> tuple[int, ...]:
        return (len(self.query), *(-s.kind for s in self.segments))


@dataclass
class RouteMatch:
    operation: OperationModel
    labels: dict[str, str] = field(default_factory=dict)
    literal_query: tuple[str, ...] = ()  # query keys fixed by the requestUri, not members


def parse_request_uri(method: str, request_uri: str, operation: str) -> Route:
    """``/things/{thingName}/jobs/{jobId}?force`` -> a Route."""
    path, _, query = request_uri.partition("?")
    segments: list[Segment] = []
    for part in path.strip("/").split("/") if path.strip("/") else []:
        if part.startswith("{") and part.endswith("+}"):
            segments.append(Segment(_GREEDY, part[1:-2]))
        elif part.startswith("{") and part.endswith("}"):
            segments.append(Segment(_LABEL, part[1:-1]))
        else:
            segments.append(Segment(_LITERAL, part))
    literals: list[tuple[str, str | None]] = []
    for item in query.split("&") if query else []:
        key, eq, value = item.partition("=")
        literals.append((key, value if eq else None))
    return Route(method.upper(), tuple(segments), tuple(literals), operation)


def _match_segments(route: Route, raw: list[str], parts: list[str]) -> dict[str, str] | None:
    """Labels of ``route`` for the path split in ``raw`` (encoded) and ``parts`` (decoded)."""
    labels: dict[str, str] = {}
    for i, seg in enumerate(route.segments):
        if seg.kind == _GREEDY:
            rest = raw[i:]
            if not rest or not any(rest):
                return None
            labels[seg.text] = unquote("/".join(rest))
            return labels
        if i >= len(parts):
            return None
        if seg.kind == _LITERAL:
            if parts[i] != seg.text:
                return None
        else:
            if parts[i] == "":
                return None
            labels[seg.text] = parts[i]
    if len(parts) != len(route.segments):
        return None
    return labels


class Router:
    """Maps (method, raw path, query) to an operation of one botocore service model."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.routes: list[Route] = []
        for name in model.operation_names:
            http = model.operation_model(name).http
            self.routes.append(parse_request_uri(http["method"], http["requestUri"], name))
        # Most specific first, so the first match is the best one. Routes are bucketed by
        # method and segment count (greedy ones apart) so a lookup scans a handful of routes.
        self.routes.sort(key=lambda r: r.specificity, reverse=True)
        self._exact: dict[tuple[str, int], list[Route]] = {}
        self._greedy: dict[str, list[Route]] = {}
        for route in self.routes:
            if route.segments and route.segments[-1].kind == _GREEDY:
                self._greedy.setdefault(route.method, []).append(route)
            else:
                self._exact.setdefault((route.method, len(route.segments)), []).append(route)

    def match(
        self, method: str, raw_path: str, query: Mapping[str, str] | str = ""
    ) -> RouteMatch | None:
        """The operation a request addresses, with its decoded path labels; None if none."""
        path = raw_path.split("?", 1)[0]
        stripped = path.strip("/")
        raw = stripped.split("/") if stripped else []
        parts = [unquote(p) for p in raw]
        if isinstance(query, str):
            query_map: Mapping[str, str] = dict(parse_qsl(query, keep_blank_values=True))
        else:
            query_map = query
        method = method.upper()
        candidates = self._exact.get((method, len(parts)), []) + self._greedy.get(method, [])
        for route in candidates:
            labels = _match_segments(route, raw, parts)
            if labels is None:
                continue
            if any(
                key not in query_map or (value is not None and query_map[key] != value)
                for key, value in route.query
            ):
                continue
            return RouteMatch(
                self.model.operation_model(route.operation),
                labels,
                tuple(key for key, _ in route.query),
            )
        return None
