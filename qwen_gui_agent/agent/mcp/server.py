"""``agent mcp``: the agent and its devices as a Model Context Protocol server, over stdio or loopback HTTP.

Built on the official ``mcp`` SDK (``MCPServer``). The server ends when its
client closes stdin (stdio) or on SIGINT/SIGTERM: calls in flight stop at
their next step and are recorded as interrupted, every run is finished, then
the devices and the model are closed. Startup and shutdown lines go to
stderr; on stdio, stdout carries the protocol only (the SDK points file
descriptor 1 at stderr while it serves, so stray prints cannot corrupt it).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager

import anyio
from mcp.server.mcpserver import MCPServer

from ... import __version__
from ..runtime.console import plural
from . import act_tools, screen_tools, task_tools
from .policy import describe
from .redaction import secret_guard
from .settings import ServerSettings
from .workbench import Workbench

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
Drives a desktop or Android device the way a person would: look at the screen, then act on it.
Start with `devices` (what this server drives and what it allows on each), then `screenshot` to see the screen.
Act with `tap` (name an element in words; the agent's vision model finds it), `type`, or `do` (one action in
canonical text, its points in pixels of the last screenshot image). Read the screen with `query` (an answer as
JSON matching a JSON Schema) and `assert` (a yes/no verdict with evidence). Hand a whole goal or a task file to
`run_task`: the agent's model works it step by step and returns the status, its answer and the run directory.
Every call is recorded; `replay_check` checks a recorded run against today's code. A refused call names the
flag the server needs to be started with to allow it."""

GRACE_S = 5.0  # HTTP: how long open connections may take to close once the server stops
RESPONSE_GRACE_S = 0.3  # after the calls in flight have ended, for their answers to be written


def build_server(bench: Workbench) -> MCPServer:
    """The MCP server with every tool; a guard keeps declared secrets off the wire."""
    server: MCPServer = MCPServer(
        name="qwen-gui-agent",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        middleware=[secret_guard(bench.secrets)] if bench.secrets else None,
    )
    screen_tools.register(server, bench)
    act_tools.register(server, bench)
    task_tools.register(server, bench)
    return server


def serve(settings: ServerSettings) -> None:
    """Serve until the client leaves (stdio) or a signal stops the server; every run is finished on the way out."""
    bench = Workbench(settings)
    server = build_server(bench)
    listener = _listen(settings) if settings.transport == "http" else None
    try:
        anyio.run(_serve, bench, server, listener)
    except* (BrokenPipeError, ConnectionResetError):  # stdio: the client went away while the server was writing
        _say("the MCP client closed the connection")
    finally:
        _finish(bench)


async def _serve(bench: Workbench, server: MCPServer, listener: socket.socket | None) -> None:
    async with anyio.create_task_group() as group:
        if listener is None:
            group.start_soon(_stop_on_signals, bench, lambda: _exit_now(bench))
            _say(f"serving MCP on stdio (pid {os.getpid()}); {_summary(bench)}")
            if sys.stdin.isatty():  # started by hand, not by a client
                _say(
                    "stdin is a terminal: an MCP client starts this command itself (docs/mcp.md); "
                    "for a server to connect to, use --transport http"
                )
            await server.run_stdio_async()
        else:
            http = _HttpServer(server, bench.settings.host, listener)
            group.start_soon(_stop_on_signals, bench, http.stop)
            _say(
                f"serving MCP at {bench.settings.url(listener.getsockname()[1])} (pid {os.getpid()}); {_summary(bench)}"
            )
            await http.serve(sockets=[listener])
        group.cancel_scope.cancel()


async def _stop_on_signals(bench: Workbench, then: Callable[[], Awaitable[None]]) -> None:
    """SIGINT/SIGTERM: calls in flight stop at their next step and record it, then the transport stops.

    The receiver stays open to the end, so a second signal while the calls finish is told to wait, never
    left to kill the process with runs still marked running.
    """
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for number in signals:
            name = signal.Signals(number).name
            if bench.stop_reason is not None:
                _say(f"{name}: already stopping; the calls in flight are recording how they ended")
                continue
            reason = f"{name} (the MCP server was stopped)"
            _say(f"stopping: {reason}")
            bench.stop_calls(reason)
            await _calls_ended(bench)
            await then()


async def _calls_ended(bench: Workbench) -> None:
    while bench.busy:
        await anyio.sleep(0.05)
    await anyio.sleep(RESPONSE_GRACE_S)  # their answers (the run, stopped) on their way to the client


async def _exit_now(bench: Workbench) -> None:
    """stdio: the SDK reads stdin on a thread no cancellation reaches, so once the calls have ended and every
    run is finished, the process exits by itself."""
    _finish(bench)
    sys.stderr.flush()
    os._exit(0)


def _finish(bench: Workbench) -> None:
    if bench.closed:
        return
    for result in bench.close():
        _say(f"recorded {plural(result.steps, 'step')} in {result.run_dir} ({result.status})")


def _summary(bench: Workbench) -> str:
    settings = bench.settings
    model = settings.model.settings
    return (
        f"devices: {describe(bench.policy)}; runs in {settings.out_dir}/; model: {model.kind} {model.model} "
        "(started when a call first needs it)"
    )


def _say(line: str) -> None:
    print(f"agent mcp: {line}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- streamable HTTP


class ListenError(OSError):
    """The loopback address cannot be listened on (port taken, address not local)."""


def _listen(settings: ServerSettings) -> socket.socket:
    """A socket bound before serving, so a taken port is said at once and --port 0 gets a free one."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((settings.host, settings.port))
    except OSError as error:
        listener.close()
        raise ListenError(f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}") from None
    listener.set_inheritable(True)
    return listener


class _HttpServer:
    """uvicorn serving the SDK's streamable-HTTP app; the MCP server, not uvicorn, decides how to stop."""

    def __init__(self, server: MCPServer, host: str, listener: socket.socket) -> None:
        import uvicorn

        # DNS-rebinding protection comes with a loopback host (the SDK turns it on for those names).
        app = server.streamable_http_app(host=host)
        config = uvicorn.Config(app, log_config=None, timeout_graceful_shutdown=int(GRACE_S), lifespan="on")

        class Server(uvicorn.Server):
            @contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield  # SIGINT/SIGTERM stop the calls in flight first (_stop_on_signals), then uvicorn

        self._uvicorn = Server(config)
        self.listener = listener

    async def serve(self, sockets: list[socket.socket]) -> None:
        await self._uvicorn.serve(sockets=sockets)

    async def stop(self) -> None:
        self._uvicorn.should_exit = True
