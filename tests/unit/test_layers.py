"""The layers hold: only ``cli`` (and the tests) reach ``cli`` and ``wiring``.

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
