"""Talking to one device through the adb server, with retries that are safe.

adbutils speaks the adb host protocol; this module adds what a long agent
run needs on top: a command either reaches the device or fails with a typed
error, transient trouble (a dropped socket, "device offline" for a moment)
is retried with exponential backoff, and a command that may already have run
on the device (a tap whose reply was lost) is never sent twice.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal, TypeVar

import tenacity

from ..errors import DeviceDisconnected, MissingDependency
from .settings import AndroidSettings
from .text import ADB_INPUT_B64_ACTION

if TYPE_CHECKING:
    from adbutils import AdbClient, AdbDevice

logger = logging.getLogger(__name__)

T = TypeVar("T")
Service = Literal["shell", "exec"]

SERVER_PROBE_S = 1.0  # a local adb server accepts at once; this only bounds a remote host that drops packets
# A server told to stop answers OKAY and closes its socket a moment later; we wait for that, so that
# when the run ends the daemon it started is gone (not still listening for a few hundred ms).
SERVER_STOP_S = 5.0
_READ_SIZE = 1 << 20
_OKAY = b"OKAY"
_FAIL = b"FAIL"


class TransientAdbError(Exception):
    """Trouble that may pass: worth another attempt."""


@contextmanager
def transient_on_adb_trouble(what: str) -> Iterator[None]:
    """Turn what adbutils and the socket raise into TransientAdbError("``what``: reason"), so it is retried."""
    from adbutils import AdbError

    try:
        yield
    except (AdbError, OSError, EOFError) as error:
        raise TransientAdbError(f"{what}: {error or type(error).__name__}") from error


def adb_client(settings: AndroidSettings) -> AdbClient:
    """An adbutils client for the configured server (imported lazily: adbutils is optional at import time)."""
    try:
        from adbutils import AdbClient
    except ImportError as error:
        raise MissingDependency("adbutils is not installed", hint="pip install adbutils") from error
    return AdbClient(host=settings.adb_host, port=settings.adb_port, socket_timeout=settings.command_timeout_s)


def adb_server_listening(settings: AndroidSettings) -> bool:
    """Whether something accepts connections at the adb server's address (without starting one)."""
    try:
        with socket.create_connection((settings.adb_host, settings.adb_port), timeout=SERVER_PROBE_S):
            return True
    except OSError:
        return False


@contextmanager
def adb_server_as_found(client: AdbClient, settings: AndroidSettings) -> Iterator[None]:
    """A look at the devices leaves the adb server as it found it.

    adbutils starts an adb server when none answers (``adb start-server``, a daemon that outlives
    us); one started during the look is stopped again at its end. A server that was running is
    left alone.
    """

    was_running = adb_server_listening(settings)
    try:
        yield
    finally:
        if not was_running:
            stop_started_server(client, settings, "to list devices")


def stop_started_server(client: AdbClient, settings: AndroidSettings, why: str) -> None:
    """Stop the adb server adbutils started for us (``adb start-server``'s daemon), if it is still there."""
    from adbutils import AdbError

    if adb_server_listening(settings):
        logger.info("stopping the adb server started at %s:%d %s", settings.adb_host, settings.adb_port, why)
        with contextlib.suppress(AdbError, OSError):
            client.server_kill()
        try:
            tenacity.Retrying(
                stop=tenacity.stop_after_delay(SERVER_STOP_S),
                wait=tenacity.wait_fixed(0.05),
                retry=tenacity.retry_if_result(bool),
            )(adb_server_listening, settings)
        except tenacity.RetryError:
            logger.warning(
                "the adb server at %s:%d still listens %.0f s after it was told to stop",
                settings.adb_host,
                settings.adb_port,
                SERVER_STOP_S,
            )


def with_retries(settings: AndroidSettings, what: str, call: Callable[[], T]) -> T:
    """Run ``call``; retry TransientAdbError with backoff; DeviceDisconnected once retries are spent."""

    def log_retry(state: tenacity.RetryCallState) -> None:
        assert state.outcome is not None  # tenacity calls before_sleep after an attempt, so its outcome is set
        logger.warning(
            "%s failed (%s); retry %d of %d", what, state.outcome.exception(), state.attempt_number, settings.retries
        )

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.retries + 1),
        wait=tenacity.wait_exponential(
            multiplier=settings.retry_backoff_s, min=settings.retry_backoff_s, max=settings.retry_backoff_max_s
        ),
        retry=tenacity.retry_if_exception_type(TransientAdbError),
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        return retrying(call)
    except TransientAdbError as error:
        raise DeviceDisconnected(
            f"{what} failed {settings.retries + 1} times: {error}",
            hint=f"check `adb devices` against the adb server at {settings.adb_host}:{settings.adb_port}; "
            "replug the cable or `adb connect HOST:PORT` again for a device over TCP",
        ) from error


class DeviceLink:
    """Shell and exec commands on one device, by serial."""

    def __init__(self, client: AdbClient, serial: str, settings: AndroidSettings) -> None:
        self.serial = serial
        self.settings = settings
        self._device: AdbDevice = client.device(serial=serial)

    def run(self, command: str, *, service: Service = "shell", idempotent: bool = True) -> bytes:
        """Everything ``command`` writes, as bytes. ``exec`` gives an 8-bit clean stream (screencap)."""
        return with_retries(
            self.settings,
            f"`adb {'exec-out' if service == 'exec' else 'shell'} {shown_command(command)}` on {self.serial}",
            lambda: self._run_once(command, service, idempotent),
        )

    def text(self, command: str, *, idempotent: bool = True) -> str:
        """The output of a shell command as text, line ends normalised, trailing space removed."""
        raw = self.run(command, idempotent=idempotent)
        return raw.decode("utf-8", errors="replace").replace("\r\n", "\n").rstrip()

    def _run_once(self, command: str, service: Service, idempotent: bool) -> bytes:
        from adbutils import AdbError

        with transient_on_adb_trouble(f"no transport to {self.serial}"):
            connection = self._device.open_transport(timeout=self.settings.command_timeout_s)
        with connection:
            with transient_on_adb_trouble(f"sending to {self.serial} failed"):
                connection.send_command(f"{service}:{command}")
                status = connection.read(4)
                if status == _FAIL:
                    raise TransientAdbError(f"adb refused the command: {connection.read_string_block()}")
                if status != _OKAY:
                    raise TransientAdbError(f"the adb server closed the connection (got {status!r})")
            try:
                return _read_to_end(connection.conn)
            except (AdbError, OSError, EOFError) as error:
                if idempotent:
                    raise TransientAdbError(f"reading from {self.serial} failed: {error}") from error
                # The command was accepted and may have run: a retry could tap twice.
                raise DeviceDisconnected(
                    f"the connection to {self.serial} broke while `{shown_command(command)}` ran; not retried, it "
                    "may have run",
                    hint="take a new screenshot to see the state before the next action",
                ) from error


def shown_command(command: str) -> str:
    """``command`` as messages and logs show it: the text a typing command carries is left out.

    A secret is typed in pieces (``input text`` is split at a literal ``%s`` and at each newline) and
    spelled as the shell and ``input`` need it (``%s`` for spaces, shell quotes, base64 for the IME),
    so no redaction of the whole value can find a piece of it in a message: no piece goes in.
    """
    for prefix in _TYPING_PREFIXES:
        if command.startswith(prefix):
            return f"{prefix}<{len(command) - len(prefix)} characters of typed text>"
    return command


_TYPING_PREFIXES = ("input text ", f"am broadcast -a {ADB_INPUT_B64_ACTION} --es msg ")


def _read_to_end(sock: socket.socket) -> bytes:
    """Everything until the device closes the stream, in large reads joined once.

    (adbutils' read_until_close appends 4 KiB at a time to a bytes object,
    quadratic in the size: about 0.7 s extra for one 10 MB raw screenshot.)
    """
    chunks: list[bytes] = []
    while chunk := sock.recv(_READ_SIZE):
        chunks.append(chunk)
    return b"".join(chunks)
