"""Every shared model flag on a command, without listing them: ``@with_model_flags``.

The flags are read off ``model_options.resolve_model_settings``'s keyword parameters, each paired
with the ``*Option`` alias in model_options whose first flag names it (``--request-timeout`` ->
``request_timeout``). A flag added there (say ``--adapter``) appears on every decorated command by
itself. The command receives the values as one ``model_flags`` dict to pass on to
``resolve_model_settings(**model_flags)``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from typer.models import OptionInfo

from . import model_options

log = logging.getLogger(__name__)

_NOT_FLAGS = ("environ", "task")


def _flag_name(option: OptionInfo) -> str | None:
    declarations = [d for d in (option.param_decls or ()) if isinstance(d, str) and d.startswith("--")]
    if not declarations and isinstance(option.default, str) and option.default.startswith("--"):
        declarations = [option.default]  # Annotated options keep their first flag in `default`
    return declarations[0].split("/")[0][2:].replace("-", "_") if declarations else None


def model_flag_aliases() -> dict[str, Any]:
    """resolve_model_settings parameter name -> its ``Annotated[..., typer.Option(...)]`` alias."""
    aliases: dict[str, Any] = {}
    for value in vars(model_options).values():
        if get_origin(value) is not Annotated:
            continue
        for extra in get_args(value)[1:]:
            if isinstance(extra, OptionInfo) and (name := _flag_name(extra)):
                aliases.setdefault(name, value)
    wanted = [name for name in inspect.signature(model_options.resolve_model_settings).parameters
              if name not in _NOT_FLAGS]
    missing = [name for name in wanted if name not in aliases]
    if missing:
        log.debug("model settings without a shared flag: %s", ", ".join(missing))
    return {name: aliases[name] for name in wanted if name in aliases}


def with_model_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command(..., model_flags: dict)`` as a typer command that takes every shared model flag."""
    aliases = model_flag_aliases()
    hints = get_type_hints(command, include_extras=True)
    own = [parameter.replace(annotation=hints.get(parameter.name, parameter.annotation))
           for parameter in inspect.signature(command).parameters.values() if parameter.name != "model_flags"]
    taken = {parameter.name for parameter in own}
    flags = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=alias)
             for name, alias in aliases.items() if name not in taken]

    @functools.wraps(command)
    def wrapper(**values: Any) -> Any:
        model_flags = {parameter.name: values.pop(parameter.name, None) for parameter in flags}
        return command(model_flags=model_flags, **values)

    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + flags
    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    del wrapper.__wrapped__  # typer must read the signature above, not the command's own
    return wrapper
