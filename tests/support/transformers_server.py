"""A real ``transformers serve`` process on 127.0.0.1, serving a model directory (the tiny Qwen2.5-VL).

The OpenAI-compatible server transformers ships (the ``serve`` extra: ``transformers[serving]``),
started the way a user starts it, on a free port, pinned to one model, on the CPU. Readiness is
its ``/health`` answering 200; the process is always stopped, whatever the test did.

    with TransformersServer(model_dir) as server:
        ... --base-url server.base_url --model server.model ...
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.processes import stop_process

READY_TIMEOUT_S = 300.0  # a cold start imports torch and transformers on a busy machine


class ServeUnavailable(RuntimeError):
    """``transformers serve`` cannot run here (the serving extra is not installed)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_serving_installed() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise ServeUnavailable(
            f"transformers serve needs the serving extra ({error}): pip install -e '.[serve]'"
        ) from None


class TransformersServer:
    def __init__(self, model_dir: Path | str) -> None:
        self.model = str(model_dir)  # the name requests must use: the server is pinned to it
        self.port = free_port()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - held for the server's life; a pipe could fill and block it
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> TransformersServer:
        check_serving_installed()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        command = [
            sys.executable,
            "-m",
            "transformers.cli.transformers",
            "serve",
            self.model,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--device",
            "cpu",
            "--log-level",
            "info",
        ]
        self._process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"transformers serve was not ready within {READY_TIMEOUT_S:g} s:\n{self.log_tail()}")

    def log_tail(self, size: int = 4000) -> str:
        self._log.seek(0)
        return self._log.read()[-size:].decode("utf-8", "replace")

    def close(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=15)
        self._log.close()

    def __enter__(self) -> TransformersServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
