"""The layers hold (docs/architecture.md): each package imports only what its layer may, and no
two modules import each other, directly or around a cycle.

Every module of the packages below is parsed (not imported) and each import it makes is
collected: ``import x`` / ``from x import y`` at any depth (functions, ``TYPE_CHECKING``
blocks included), relative ones resolved, and ``importlib.import_module("x")`` /
``__import__("x")`` calls with a literal name. None may name ``ota_deploy.cli`` or
``ota_deploy.wiring``, and no module may load a project module by a computed name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "ota_deploy"
BELOW_WIRING = ("deploy", "monitor", "report", "fleet", "local", "core", "config", "aws", "mqtt")
FORBIDDEN = ("ota_deploy.cli", "ota_deploy.wiring")
DYNAMIC = {"import_module", "__import__"}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, root: Path = SRC) -> list[tuple[int, str]]:
    """(line, imported name) for every import ``path`` (a module under the package ``root``)
    makes; ``?`` for a computed name."""
    module = _module_name(path, root)
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, is_package)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in DYNAMIC and node.args:
                arg = node.args[0]
                literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                found.append((node.lineno, arg.value if literal else "?"))  # type: ignore[union-attr]
    return found


# What each package may import of the project (itself included). docs/architecture.md shows the
# same table; change both together.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "runtime": frozenset({"runtime", "core"}),
    "config": frozenset({"config", "core"}),
    "aws": frozenset({"aws", "config", "core"}),
    "mqtt": frozenset({"mqtt", "core"}),
    "local": frozenset({"local", "mqtt", "runtime", "core"}),
    "fleet": frozenset({"fleet", "mqtt", "runtime", "core"}),
    "monitor": frozenset({"monitor", "mqtt", "core"}),
    "report": frozenset({"report", "core"}),
    "deploy": frozenset({"deploy", "aws", "config", "monitor", "report", "core", "runtime"}),
    "wiring": frozenset(
        {"wiring", "deploy", "fleet", "local", "aws", "config", "monitor", "report", "core",
         "runtime", "mqtt"}
    ),
}  # fmt: skip
# Narrow exceptions, each a plain record shared sideways.
EXCEPTIONS = {
    ("deploy", "ota_deploy.fleet.options"),  # RunRequest carries the fleet's behaviour options
}
THIRD_PARTY_ONLY_IN = {
    "boto3": frozenset({"aws"}),
    "botocore": frozenset({"aws", "core", "local"}),  # core: aws_model reads the models
}


def _package_of(name: str) -> str | None:
    """The project package ``name`` belongs to (None: third-party, or the root's __init__)."""
    parts = name.split(".")
    if len(parts) > 1 and parts[0] == "ota_deploy" and (SRC / parts[1]).is_dir():
        return parts[1]
    return None


def _all_modules() -> dict[str, Path]:
    return {_module_name(path, SRC): path for path in sorted(SRC.rglob("*.py"))}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    files = sorted((SRC / package).rglob("*.py"))
    assert files, f"no modules under {package}/"
    bad = []
    for path in files:
        for line, name in imports_of(path):
            target = _package_of(name)
            top = name.split(".")[0]
            where = f"{path.relative_to(SRC.parent)}:{line}: {name}"
            if target is not None:
                if target not in ALLOWED[package] and not any(
                    package == p and (name == n or name.startswith(n + ".")) for p, n in EXCEPTIONS
                ):
                    bad.append(where)
            elif top in THIRD_PARTY_ONLY_IN and package not in THIRD_PARTY_ONLY_IN[top]:
                bad.append(where)
    assert bad == []


def test_every_package_has_a_rule() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - {"cli"} == set(ALLOWED)


def _module_edges(path: Path, module: str, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` makes Python load: ``import a.b`` loads a.b; ``from a import
    b`` loads a.b if that is a module, else a's ``__init__`` (b is defined there). A parent
    package every module loads implicitly is not counted, unless names are taken from it."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, is_package)
            for alias in node.names:
                name = f"{base}.{alias.name}"
                targets.add(name if name in modules else base)
    edges = set()
    for name in targets:
        while name and name not in modules:  # import a.b.c of a class: the module a.b
            name = name.rpartition(".")[0]
        if name and name != module:
            edges.add(name)
    return edges


def test_no_import_cycle_between_files() -> None:
    """Module-level graph, TYPE_CHECKING and function-level imports included: no strongly
    connected component larger than one module."""
    modules = _all_modules()
    graph = {m: _module_edges(path, m, modules) for m, path in modules.items()}
    assert sum(len(e) for e in graph.values()) > len(graph)  # the scan sees the imports
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph has a few hundred nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                out.append(component)
    return out


def test_the_cycle_check_finds_a_cycle() -> None:
    found = _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert sorted(sorted(c) for c in found if len(c) > 1) == [["a", "b", "c"]]


def _names_forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("package", BELOW_WIRING)
def test_package_never_imports_cli_or_wiring(package: str) -> None:
    files = sorted((SRC / package).rglob("*.py"))
    assert files, f"no modules under {package}/"
    bad = [
        f"{path.relative_to(SRC.parent)}:{line}: {name}"
        for path in files
        for line, name in imports_of(path)
        if _names_forbidden(name) or name == "?"
    ]
    assert bad == []


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The rule is only as good as the scan: each way of reaching ``cli`` is seen."""
    pkg = tmp_path / "ota_deploy" / "deploy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    probe = pkg / "probe.py"
    probe.write_text(
        "from __future__ import annotations\n"
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ota_deploy.wiring.run import execute\n"
        "from ..cli import app\n"
        "def f(name: str) -> None:\n"
        "    import ota_deploy.cli.run\n"
        "    importlib.import_module('ota_deploy.cli.local')\n"
        "    __import__(name)\n"
    )
    names = [name for _, name in imports_of(probe, tmp_path / "ota_deploy")]
    assert "ota_deploy.wiring.run" in names  # TYPE_CHECKING
    assert "ota_deploy.cli" in names  # relative
    assert "ota_deploy.cli.run" in names  # inside a function
    assert "ota_deploy.cli.local" in names  # importlib with a literal
    assert "?" in names  # a computed name
    assert sum(_names_forbidden(n) for n in names) >= 4
