"""Desks with no phone running answer « 480 Temporarily Unavailable » at once.

A position's phone is a sipp process listening on a fixed loopback port only while a test runs.
Without an answer, an INVITE that Asterisk sends to an idle desk (the queue ringing a position whose
phone is not started, a call that outlives its test) is retransmitted for 32 s (timer B), and the
next phone started on that port takes the stale call as its own. A real desk phone that is off
answers; so does this one, and Asterisk's transaction ends at once.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import subprocess
import threading
from collections.abc import Mapping

__all__ = ["IdleDesks"]

logger = logging.getLogger(__name__)

_POLL_S = 0.05
"""How often a lent port is checked for its phone's exit."""
_COPIED_HEADERS = ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")


def _response(request: bytes, status: str) -> bytes | None:
    """The response to a SIP request, with its transaction headers copied; None for a response."""
    text = request.decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    if not lines or lines[0].startswith("SIP/2.0"):
        return None
    out = [f"SIP/2.0 {status}"]
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key not in _COPIED_HEADERS:
            continue
        if key in ("to", "t") and ";tag=" not in value:
            line = f"{line};tag=idle-desk"
        out.append(line)
    out += ["Content-Length: 0", "", ""]
    return "\r\n".join(out).encode()


def _method(request: bytes) -> str:
    return request.split(b" ", 1)[0].decode("ascii", "replace")


class IdleDesks:
    """One UDP responder per phone port, lent to a phone process while it runs.

    A thread answers INVITE with 480 (ACK absorbed), CANCEL and OPTIONS with 200, anything else with
    481; it takes a port back as soon as the phone it was lent to has exited.
    """

    def __init__(self, host: str, ports: Mapping[str, int]) -> None:
        self._host = host
        self._ports = dict(ports)
        self._lock = threading.Lock()
        self._sockets: dict[int, socket.socket] = {}
        self._lent: dict[int, subprocess.Popen[bytes] | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind every phone port and start answering."""
        with self._lock:
            for port in self._ports.values():
                self._take(port)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="idle-desks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop answering and free every port. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            for sock in self._sockets.values():
                sock.close()
            self._sockets.clear()
            self._lent.clear()

    def lend(self, position: str) -> None:
        """Free ``position``'s port for a phone about to start; see :meth:`lent_to`."""
        port = self._ports[position]
        with self._lock:
            sock = self._sockets.pop(port, None)
            if sock is not None:
                sock.close()
            self._lent[port] = None

    def lent_to(self, position: str, process: subprocess.Popen[bytes] | None) -> None:
        """Name the phone that holds the port (None: it failed to start); the port comes back
        to the desk when that process exits."""
        port = self._ports[position]
        with self._lock:
            if process is None:
                self._lent.pop(port, None)
                self._take(port)
            else:
                self._lent[port] = process

    def _take(self, port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self._host, port))
        except OSError:
            # The port is still held (the phone's socket not yet closed): tried again later.
            sock.close()
            self._lent[port] = None
            return
        sock.setblocking(False)
        self._sockets[port] = sock
        self._lent.pop(port, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                for port, process in list(self._lent.items()):
                    if process is not None and process.poll() is not None:
                        self._take(port)
                sockets = list(self._sockets.values())
            with selectors.DefaultSelector() as selector:
                for sock in sockets:
                    with contextlib.suppress(ValueError, OSError):
                        selector.register(sock, selectors.EVENT_READ, sock)
                ready = selector.select(_POLL_S) if selector.get_map() else []
                if not ready:
                    self._stop.wait(_POLL_S if not sockets else 0)
            for key, _ in ready:
                self._answer(key.data)

    def _answer(self, sock: socket.socket) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, OSError):
                return
            method = _method(data)
            if method == "ACK":
                continue
            status = {
                "INVITE": "480 Temporarily Unavailable",
                "CANCEL": "200 OK",
                "OPTIONS": "200 OK",
            }.get(method, "481 Call/Transaction Does Not Exist")
            response = _response(data, status)
            if response is None:
                continue
            logger.info(
                "idle desk on port %d answered %s with %s", sock.getsockname()[1], method, status
            )
            with contextlib.suppress(OSError):
                sock.sendto(response, peer)
