"""Groups of options that several commands share, declared once (not a command module).

A group is a function whose parameters are Typer options and whose result is the value the
commands want (``rounds.run_flags`` -> ``RunFlags``). ``@option_group("flags", run_flags)``
gives a command that group's options in place of its parameter ``flags``: Typer reads the
merged signature, and at call time the command receives ``run_flags(**those options)``. So a
new shared option is one parameter in one place, and its validation runs once for every
command that takes it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def option_group(
    name: str, build: Callable[..., Any]
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Replace the command's parameter ``name`` by ``build``'s options (see module doc)."""
    shared = list(inspect.signature(build, eval_str=True).parameters.values())
    shared_names = [p.name for p in shared]

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != name]
        clash = {p.name for p in own} & set(shared_names)
        if name not in signature.parameters or clash:
            raise TypeError(f"{command.__name__}: no parameter {name!r}, or clashes {clash}")
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own + shared]

        @functools.wraps(command)
        def with_group(**kwargs: Any) -> R:
            group = build(**{n: kwargs.pop(n) for n in shared_names})
            return command(**kwargs, **{name: group})

        with_group.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        with_group.__annotations__ = {p.name: p.annotation for p in params}
        with_group.__annotations__["return"] = signature.return_annotation
        return with_group

    return decorate
