"""``agent emulator list|start``: headless Android emulators of an installed SDK.

The SDK is found from ``--sdk``, then ANDROID_HOME, then ANDROID_SDK_ROOT (read
here, at the edge); the driver itself (``qwen_gui_agent.devices.android.emulator``) reads nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from .device_options import AdbHostOpt, AdbPortOpt, DeviceFlags, android_settings_for_cli

if TYPE_CHECKING:
    from ...devices.android.settings import AndroidSettings

SDK_VARIABLES = ("ANDROID_HOME", "ANDROID_SDK_ROOT")

SdkOpt = Annotated[
    Path | None,
    typer.Option("--sdk", help="Android SDK folder (env ANDROID_HOME, then ANDROID_SDK_ROOT).", show_default=False),
]


def sdk_root(flag: Path | None, environ: Mapping[str, str]) -> Path | None:
    if flag is not None:
        return flag
    return next((Path(environ[name]) for name in SDK_VARIABLES if environ.get(name)), None)


def _settings(sdk: Path | None, adb_host: str | None, adb_port: int | None) -> AndroidSettings:
    base = android_settings_for_cli(DeviceFlags(adb_host=adb_host, adb_port=adb_port), os.environ)
    return base.model_copy(update={"sdk_root": sdk_root(sdk, os.environ)})


def list_command(
    sdk: SdkOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array of AVD names.")] = False,
) -> None:
    """List the AVDs the SDK's emulator knows."""
    from ...devices.android.emulator import list_avds
    from ...devices.errors import DeviceError

    err = Console(stderr=True, soft_wrap=True)
    try:
        names = list_avds(_settings(sdk, None, None))
    except DeviceError as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(names))
    elif not names:
        err.print("no AVDs yet: create one with `avdmanager create avd -n NAME -k SYSTEM_IMAGE`")
    else:
        typer.echo("\n".join(names))


def start_command(
    avd: Annotated[str, typer.Argument(help="The AVD to boot (see `agent emulator list`).")],
    port: Annotated[
        int, typer.Option(help="Console port, an even number in 5554..5682; the serial is emulator-PORT.")
    ] = 5554,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds to wait for boot completion (default 300).", min=1)
    ] = None,
    sdk: SdkOpt = None,
    adb_host: AdbHostOpt = None,
    adb_port: AdbPortOpt = None,
) -> None:
    """Boot an AVD headless (-no-window) and wait until Android says boot completed; it keeps running."""
    from ...devices.android.emulator import start_emulator
    from ...devices.errors import DeviceError

    err = Console(stderr=True, soft_wrap=True)
    settings = _settings(sdk, adb_host, adb_port)
    if timeout is not None:
        settings = settings.model_copy(update={"emulator_boot_timeout_s": timeout})
    try:
        emulator = start_emulator(avd, settings, port=port)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--port") from None
    except DeviceError as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    typer.echo(
        f"{emulator.serial} booted (pid {emulator.process.pid}, log {emulator.log_path}); "
        f"use it with --device android:{emulator.serial}; stop it with `adb -s {emulator.serial} emu kill`"
    )


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Android emulators (AVDs) of an installed Android SDK.", no_args_is_help=True)
    group.command("list")(list_command)
    group.command("start")(start_command)
    app.add_typer(group, name="emulator")
