"""Flag groups: a frozen dataclass whose fields are typer options, added to a command whole.

A command that reasons takes the model flags, one that acts the device flags, ``agent run`` the
loop flags too. Each group is written once as a dataclass whose field annotations are the
``Annotated[..., typer.Option(...)]`` aliases (``ModelFlags`` in model_options.py, ``DeviceFlags``
in device_options.py, ``LoopFlags`` in loop_options.py). ``@with_flag_groups(model=ModelFlags)`` gives the
command every field as an option and calls it with one typed object per group, so a flag added to
a group appears on every command that takes the group, and no command lists them by hand.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, get_type_hints

Command = TypeVar("Command", bound=Callable[..., Any])


def group_parameters(group: type[Any]) -> list[inspect.Parameter]:
    """One keyword-only typer parameter per field of the dataclass ``group``, with its option and default."""
    if not dataclasses.is_dataclass(group):
        raise TypeError(f"{group.__name__} is not a dataclass of flags")
    hints = get_type_hints(group, include_extras=True)
    return [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=hints[field.name],
            default=field.default if field.default is not dataclasses.MISSING else None,
        )
        for field in dataclasses.fields(group)
    ]


def with_flag_groups(**groups: type[Any]) -> Callable[[Command], Command]:
    """``command(..., *, NAME: Group)`` as a typer command taking every field of each group as an option."""

    def decorate(command: Command) -> Command:
        hints = get_type_hints(command, include_extras=True)
        own = [
            parameter.replace(
                annotation=hints.get(parameter.name, parameter.annotation), kind=inspect.Parameter.KEYWORD_ONLY
            )
            for parameter in inspect.signature(command).parameters.values()
            if parameter.name not in groups
        ]
        flags = {name: group_parameters(group) for name, group in groups.items()}
        taken = [parameter.name for parameter in own]
        clashes = sorted({p.name for params in flags.values() for p in params} & set(taken)) or sorted(
            name
            for name in {p.name for params in flags.values() for p in params}
            if sum(name == p.name for params in flags.values() for p in params) > 1
        )
        if clashes:
            raise TypeError(f"{command.__name__}: flags defined twice: {', '.join(clashes)}")

        @functools.wraps(command)
        def wrapper(**values: Any) -> Any:
            built = {
                name: groups[name](**{p.name: values.pop(p.name) for p in params}) for name, params in flags.items()
            }
            return command(**values, **built)

        parameters = own + [parameter for params in flags.values() for parameter in params]
        wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        del wrapper.__wrapped__  # typer must read the signature above, not the command's own
        return wrapper  # type: ignore[return-value]

    return decorate
