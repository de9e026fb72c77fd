"""Network namespaces from Python: ``ip`` commands, and sockets opened inside a namespace.

A socket belongs to the namespace of the thread that created it, for its whole life: a short
thread enters the namespace (``setns``), opens the socket and ends, and any thread of the process
then uses that socket as usual.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"

T = TypeVar("T")


class NamespaceError(RuntimeError):
    """An ``ip`` command or a namespace switch failed."""


def ip(*args: str, check: bool = True) -> str:
    """Run ``ip`` with ``args``; its output. Raises :class:`NamespaceError` when it fails."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NamespaceError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def in_namespace(namespace: str, work: Callable[[], T]) -> T:
    """``work()`` run by a thread that entered ``namespace``; its result (or its exception)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(os.path.join(NETNS_DIR, namespace), os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    error = ctypes.get_errno()
                    raise NamespaceError(f"setns {namespace}: {os.strerror(error)}")
            finally:
                os.close(fd)
            outcome["result"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def socket_in(
    namespace: str,
    kind: socket.SocketKind = socket.SOCK_STREAM,
    bind: tuple[str, int] | None = None,
) -> socket.socket:
    """An IPv4 socket of ``kind`` in ``namespace``, bound to ``bind`` when given."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        if bind is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(bind)
        return sock

    return in_namespace(namespace, make)
