"""A loopback adb server for tests: the adb host protocol over a real socket.

adbutils (and so our driver) talks to it exactly as to ``adb start-server``:
every request is a 4-hex-digit length plus text; the server answers ``OKAY``
or ``FAIL`` + a length-prefixed message. Host services (``host:version``,
``host:devices``, ``host:devices-l``, ``host:connect:``, ``host:disconnect:``,
``host-serial:SERIAL:get-state`` ...) answer directly; ``host:transport:``,
``host:tport:serial:`` (with its 8-byte transport id), ``host:transport-id:``
and ``host:transport-any`` select a phone, after which ``shell:`` and
``exec:`` run a command on that phone's emulated shell (tests/support/adb_shell.py)
and stream its output until the connection closes.

    with AdbServer() as server:
        settings = AndroidSettings(adb_port=server.port)
        server.screen = image; server.phone.set_rotation(1)
        ... drive the device ...
        server.commands     # every shell command the phone received
        server.fail_next(2) # drop the next two connections right after accepting them
        server.drop_once("input text")  # the first such shell command: its connection closes unanswered
"""

from __future__ import annotations

import logging
import socket
import socketserver
import struct
import threading
import time
from types import TracebackType
from typing import Self

from PIL import Image

from tests.support.adb_shell import VirtualPhone

logger = logging.getLogger(__name__)

SERVER_VERSION = 41  # adb 1.0.41, what current platform-tools report
RESET_DELAY_S = 0.2


class AdbServer:
    """A threaded adb server on 127.0.0.1 and a free port, holding virtual phones."""

    def __init__(
        self,
        phones: list[VirtualPhone] | None = None,
        *,
        reachable: tuple[str, ...] = (),
        version: int = SERVER_VERSION,
    ) -> None:
        self.version = version  # adbutils selects with host:tport (8-byte id) from 41, host:transport before
        self.phones: dict[str, VirtualPhone] = {phone.serial: phone for phone in phones or [VirtualPhone()]}
        self.reachable = set(reachable)  # HOST:PORT addresses `adb connect` reaches (a phone appears)
        self.requests: list[str] = []  # every request text, host and device services, in order
        self._drops = 0
        self._drop_commands: list[str] = []  # prefixes of shell commands whose next connection is dropped
        self._next_transport_id = 1
        self._transport_ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None
        self.killed = threading.Event()  # set by ``host:kill`` (``adb kill-server``), after which real adb exits

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> AdbServer:
        """Listen on ``port`` (0: a free one)."""
        adb = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                adb._serve(self.request)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler, bind_and_activate=True)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-adb-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake adb server is not running")
        return self._server.server_address[1]

    # --- what tests set and read ---------------------------------------------------------------------------

    @property
    def phone(self) -> VirtualPhone:
        """The first phone (most tests have one)."""
        return next(iter(self.phones.values()))

    @property
    def screen(self) -> Image.Image:
        return self.phone.screen

    @screen.setter
    def screen(self, image: Image.Image) -> None:
        self.phone.screen = image.convert("RGB")

    @property
    def commands(self) -> list[str]:
        return self.phone.commands

    def add_phone(self, phone: VirtualPhone) -> VirtualPhone:
        with self._lock:
            self.phones[phone.serial] = phone
        return phone

    def fail_next(self, count: int) -> None:
        """Close the next ``count`` connections as soon as they are accepted (a broken link)."""
        with self._lock:
            self._drops = count

    def drop_once(self, prefix: str) -> None:
        """Close, without an answer and before the phone runs it, the connection of the next command starting with
        ``prefix`` (a link that breaks as that very command is sent: the client retries it)."""
        with self._lock:
            self._drop_commands.append(prefix)

    def _dropped_command(self, command: str) -> bool:
        with self._lock:
            for prefix in self._drop_commands:
                if command.startswith(prefix):
                    self._drop_commands.remove(prefix)
                    return True
        return False

    # --- protocol ------------------------------------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            drop = self._drops > 0
            self._drops -= drop
        if drop:
            conn.close()
            return
        phone: VirtualPhone | None = None
        while True:
            request = _read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            if phone is not None:
                self._device_service(conn, phone, request)
                return
            phone, keep_open = self._host_service(conn, request)
            if not keep_open:
                return

    def _host_service(self, conn: socket.socket, request: str) -> tuple[VirtualPhone | None, bool]:
        """Answer one host request; (selected phone, whether the connection goes on)."""
        if request == "host:version":
            _okay(conn, _block(f"{self.version:04x}"))
        elif request in ("host:devices", "host:devices-l"):
            _okay(conn, _block(self._device_lines(extended=request.endswith("-l"))))
        elif request.startswith("host:connect:"):
            _okay(conn, _block(self._connect(request.removeprefix("host:connect:"))))
        elif request.startswith("host:disconnect:"):
            _okay(conn, _block(self._disconnect(request.removeprefix("host:disconnect:"))))
        elif request == "host:kill":
            _okay(conn)
            self.killed.set()
        elif request.startswith("host-serial:"):
            self._per_serial(conn, request.removeprefix("host-serial:"))
        else:
            return self._select(conn, request)
        return None, False

    def _select(self, conn: socket.socket, request: str) -> tuple[VirtualPhone | None, bool]:
        for prefix in ("host:transport:", "host:tport:serial:"):
            if request.startswith(prefix):
                phone = self._ready_phone(conn, request.removeprefix(prefix))
                break
        else:
            if request.startswith("host:transport-id:"):
                wanted = int(request.removeprefix("host:transport-id:"))
                serial = next((s for s, tid in self._transport_ids.items() if tid == wanted), f"id {wanted}")
                phone = self._ready_phone(conn, serial)
            elif request in ("host:transport-any", "host:tport:any"):
                phone = self._ready_phone(conn, next(iter(self.phones), ""))
            else:
                _fail(conn, f"unknown host service '{request}'")
                return None, False
        if phone is None:
            return None, False
        if request.startswith("host:tport:"):
            _okay(conn, self._transport_id(phone.serial).to_bytes(8, "little"))
        else:
            _okay(conn)
        return phone, True

    def _ready_phone(self, conn: socket.socket, serial: str) -> VirtualPhone | None:
        phone = self.phones.get(serial)
        if phone is None or phone.state == "absent":
            _fail(conn, f"device '{serial}' not found")
            return None
        with self._lock:
            offline = phone.offline_selections > 0
            phone.offline_selections -= offline
        if offline or phone.state == "offline":
            _fail(conn, "device offline")
            return None
        if phone.state == "unauthorized":
            _fail(conn, "device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not set")
            return None
        return phone

    def _per_serial(self, conn: socket.socket, rest: str) -> None:
        serial, _, command = rest.rpartition(":")
        phone = self.phones.get(serial)
        if phone is None:
            _fail(conn, f"device '{serial}' not found")
        elif command == "get-state":
            _okay(conn, _block(phone.state))
        elif command == "get-serialno":
            _okay(conn, _block(phone.serial))
        elif command == "get-devpath":
            _okay(conn, _block("usb:1-1"))
        elif command == "features":
            _okay(conn, _block("shell_v2,cmd,stat_v2,abb_exec"))
        else:
            _fail(conn, f"unknown host service '{command}'")

    def _device_service(self, conn: socket.socket, phone: VirtualPhone, request: str) -> None:
        service, _, command = request.partition(":")
        if service not in ("shell", "exec"):
            _fail(conn, f"fake adb: service '{service}' is not emulated")
            return
        if self._dropped_command(command):
            conn.close()
            return
        output = phone.run(command)
        with self._lock:
            reset = phone.resets_after_run > 0
            phone.resets_after_run -= reset
        if not reset:
            _okay(conn, output)
            return
        # The phone ran the command, then the link died: OKAY arrives, the output never does.
        _okay(conn)
        time.sleep(RESET_DELAY_S)  # let the client take the OKAY before the reset discards it
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def _device_lines(self, *, extended: bool) -> str:
        lines = []
        for phone in self.phones.values():
            if phone.state == "absent":
                continue
            line = f"{phone.serial}\t{phone.state}"
            if extended:
                tid = self._transport_id(phone.serial)
                line = (
                    f"{phone.serial:<22} {phone.state} product:sdk_phone64 model:{phone.model} "
                    f"device:emu64a transport_id:{tid}"
                )
            lines.append(line + "\n")
        return "".join(lines)

    def _transport_id(self, serial: str) -> int:
        with self._lock:
            if serial not in self._transport_ids:
                self._transport_ids[serial] = self._next_transport_id
                self._next_transport_id += 1
            return self._transport_ids[serial]

    def _connect(self, address: str) -> str:
        if ":" not in address:
            address += ":5555"  # what adb does
        if address in self.phones and self.phones[address].state == "device":
            return f"already connected to {address}"
        if address not in self.reachable:
            return f"failed to connect to '{address}': Connection refused"
        self.add_phone(VirtualPhone(address, model="Remote_Phone"))
        return f"connected to {address}"

    def _disconnect(self, address: str) -> str:
        with self._lock:
            removed = self.phones.pop(address, None)
        return f"disconnected {address}" if removed else f"error: no such device '{address}'"


def _read_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_request(conn: socket.socket) -> str | None:
    try:
        length = _read_exact(conn, 4)
        if length is None:
            return None
        payload = _read_exact(conn, int(length, 16))
    except (OSError, ValueError) as error:
        logger.debug("fake adb server: bad request (%s)", error)
        return None
    return None if payload is None else payload.decode("utf-8")


def _block(text: str) -> bytes:
    data = text.encode("utf-8")
    return f"{len(data):04x}".encode() + data


def _okay(conn: socket.socket, payload: bytes = b"") -> None:
    _send(conn, b"OKAY" + payload)


def _fail(conn: socket.socket, message: str) -> None:
    _send(conn, b"FAIL" + _block(message))


def _send(conn: socket.socket, data: bytes) -> None:
    try:
        conn.sendall(data)
    except OSError as error:  # the client went away; nothing to answer
        logger.debug("fake adb server: send failed (%s)", error)
