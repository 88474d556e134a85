"""Android emulators from an installed SDK: list AVDs, boot one headless, wait, stop.

The SDK's ``emulator/emulator`` binary is run directly (``-avd NAME
-no-window -no-audio -no-boot-anim -port N``); with an explicit console port
the device's adb serial is known in advance (``emulator-N``), so the wait for
``sys.boot_completed`` polls exactly that device through the adb server.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ..errors import DeviceDisconnected, DeviceError, DeviceNotFound, MissingDependency
from .adb import DeviceLink, TransientAdbError, adb_client
from .settings import AndroidSettings

if TYPE_CHECKING:
    from adbutils import AdbClient

logger = logging.getLogger(__name__)

FIRST_CONSOLE_PORT = 5554  # the emulator's own range: even ports 5554..5682
LAST_CONSOLE_PORT = 5682
_AVD_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_SDK_HINT = (
    "install the Android SDK command-line tools, run `sdkmanager emulator platform-tools "
    "'system-images;android-34;google_apis;x86_64'`, create an AVD with avdmanager, and pass the SDK "
    "folder to the agent (`--sdk` or ANDROID_HOME)"
)


class EmulatorBootTimeout(DeviceError):
    """The emulator started but Android did not finish booting in time."""


def emulator_binary(settings: AndroidSettings) -> Path:
    """The SDK's emulator executable, or MissingDependency saying how to get it."""
    if settings.sdk_root is None:
        raise MissingDependency("no Android SDK is configured", hint=_SDK_HINT)
    binary = Path(settings.sdk_root) / "emulator" / ("emulator.exe" if os.name == "nt" else "emulator")
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise MissingDependency(f"the Android SDK at {settings.sdk_root} has no emulator ({binary})", hint=_SDK_HINT)
    return binary


def parse_avd_list(output: str) -> list[str]:
    """AVD names from ``emulator -list-avds``, skipping the log lines newer emulators print first."""
    return [line.strip() for line in output.splitlines() if _AVD_NAME.match(line.strip())]


def list_avds(settings: AndroidSettings) -> list[str]:
    binary = emulator_binary(settings)
    result = subprocess.run([str(binary), "-list-avds"], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise DeviceError(f"`emulator -list-avds` failed: {result.stderr.strip()[:300]}", hint=_SDK_HINT)
    return parse_avd_list(result.stdout)


@dataclass
class Emulator:
    """A running emulator this process started; ``stop`` ends it."""

    avd: str
    serial: str
    process: subprocess.Popen[bytes]
    log_path: Path
    command: tuple[str, ...] = field(default=())

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("emulator %s ignored SIGTERM; killing it", self.serial)
                self.process.kill()
                self.process.wait(timeout=timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_emulator(
    avd: str,
    settings: AndroidSettings,
    *,
    port: int = FIRST_CONSOLE_PORT,
    poll_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Emulator:
    """Boot ``avd`` headless on console ``port`` and wait until Android reports boot completed."""
    if port % 2 or not FIRST_CONSOLE_PORT <= port <= LAST_CONSOLE_PORT:
        raise ValueError(f"emulator console ports are even numbers in {FIRST_CONSOLE_PORT}..{LAST_CONSOLE_PORT}")
    known = list_avds(settings)
    if avd not in known:
        raise DeviceNotFound(
            f"no AVD called {avd!r}; the SDK has {', '.join(known) or 'none'}",
            hint="create one with `avdmanager create avd`",
        )
    command = (str(emulator_binary(settings)), "-avd", avd, *settings.emulator_args, "-port", str(port))
    log_path = Path(tempfile.mkstemp(prefix=f"emulator-{port}-", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    emulator = Emulator(avd=avd, serial=f"emulator-{port}", process=process, log_path=log_path, command=command)
    try:
        wait_for_boot(emulator.serial, settings, process=process, log_path=log_path, poll_s=poll_s, sleep=sleep)
    except BaseException:
        emulator.stop()
        raise
    return emulator


def wait_for_boot(
    serial: str,
    settings: AndroidSettings,
    *,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    poll_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll until ``serial`` is listed as a device and ``sys.boot_completed`` is 1."""
    client = adb_client(settings)
    quick = settings.model_copy(update={"retries": 0})  # polling is the retry loop here
    deadline = time.monotonic() + settings.emulator_boot_timeout_s
    while True:
        if process is not None and process.poll() is not None:
            raise DeviceError(
                f"the emulator for {serial} exited with code {process.returncode}",
                hint=f"see its log: {_tail(log_path)}",
            )
        if _boot_completed(client, serial, quick):
            logger.info("%s finished booting", serial)
            return
        if time.monotonic() >= deadline:
            raise EmulatorBootTimeout(
                f"{serial} did not finish booting within {settings.emulator_boot_timeout_s:.0f}s",
                hint="raise emulator_boot_timeout_s; without KVM (/dev/kvm) an x86 emulator boots very slowly",
            )
        sleep(poll_s)


def _boot_completed(client: AdbClient, serial: str, settings: AndroidSettings) -> bool:
    from adbutils import AdbError

    try:
        if not any(info.serial == serial and info.state == "device" for info in client.list()):
            return False
        return DeviceLink(client, serial, settings).text("getprop sys.boot_completed").strip() == "1"
    except (AdbError, OSError, TransientAdbError, DeviceDisconnected) as error:
        logger.debug("%s not ready yet: %s", serial, error)
        return False


def _tail(log_path: Path | None, lines: int = 5) -> str:
    if log_path is None or not log_path.exists():
        return "(no log)"
    text = log_path.read_text(errors="replace").strip().splitlines()
    return f"{log_path} ... " + " | ".join(text[-lines:])
