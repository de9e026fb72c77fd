"""An SMTP server in a process of its own, for the benchmarks: ``python -m tests.bench.smtp_sink
PORT``.

It accepts every message and prints one line per recipient, ``<time.monotonic()> <address>``
(Linux's monotonic clock is the same in every process), after a first line ``ready``. In its own
process, its work does not compete with the service's for the interpreter lock.
"""

from __future__ import annotations

import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session


class Sink:
    """aiosmtpd handler: takes the message, prints when it had it."""

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        at = time.monotonic()
        for address in envelope.rcpt_tos:
            print(f"{at:.6f} {address}", flush=True)
        return "250 2.0.0 Message accepted"


def main() -> None:
    controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the benchmark closes our standard input
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
