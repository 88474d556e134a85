"""Fixtures of the ``agent mcp`` tests: an Xvfb display, the booking form on it, a scripted model server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.mcp.serving import PASSWORD, SCREEN
from tests.support.booking_app import BookingApp
from tests.support.e2e import agent_env, xvfb_or_skip
from tests.support.model_server import ModelServer
from tests.support.xvfb import XvfbServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the server's own event loop; the client's here


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(*SCREEN)


@pytest.fixture
def app(display: XvfbServer, tmp_path: Path) -> Iterator[BookingApp]:
    booking = BookingApp(display.env(), tmp_path / "booking.json")
    try:
        yield booking
    finally:
        booking.close()


@pytest.fixture
def model() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture
def env(display: XvfbServer) -> dict[str, str]:
    """The server's environment: the display, this checkout on the path, the declared secret's value."""
    return agent_env(display.env(), BOOKING_PASSWORD=PASSWORD)
