"""Session events pushed to the CAD: signed JSON POSTs, retried with backoff, never blocking.

Each configured URL has its own bounded queue and worker, so a slow or dead receiver delays only
itself. Events keep their order per URL. The signature lets the receiver check origin and
freshness: ``X-VisioRegul-Signature: sha256=<hex>``, the HMAC-SHA256 of
``"<X-VisioRegul-Timestamp>.<body>"`` with the shared secret. Webhooks are notifications: the
session log in the store stays the reference, which the CAD can read through ``/api/v1/sessions``.

Each endpoint belongs to one centre and hears the events of that centre's sessions only: an
endpoint of ``webhooks.endpoints`` names its centre; a plain URL of ``webhooks.urls`` is the
``default`` centre's (an installation that grows a second centre never sends that centre's events
to the CAD configured before it).

When a session ends (or expires), a ``report.available`` event follows its last one, in the same
form, announcing the report's PDF and the session's files (``details.report_url``,
``details.files_url``, paths under the API, for the CAD's key of the session's centre).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .sessions.services import SessionUpdate
from .settings import DEFAULT_CENTRE_CODE, WebhookSettings

__all__ = ["REPORT_AVAILABLE", "WebhookDispatcher", "report_announcement", "sign"]

log = logging.getLogger(__name__)

_BACKOFF_MAX = 60.0

REPORT_AVAILABLE = "report.available"
"""The announcement that follows a session's end: its report can be fetched."""
_ENDINGS = frozenset({"session.ended", "session.expired"})


def report_announcement(update: SessionUpdate, payload: dict[str, Any]) -> dict[str, Any]:
    """The ``report.available`` event that follows ``payload`` (a session's last event)."""
    base = f"/api/v1/sessions/{update.session.id}"
    event = dict(payload.get("event") or {})
    event.update(
        actor="system",
        type=REPORT_AVAILABLE,
        details={"report_url": f"{base}/report.pdf", "files_url": f"{base}/files"},
    )
    return {**payload, "event": event}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass
class _Target:
    url: str
    centre_id: int
    """The centre whose session events go here."""
    queue: deque[bytes]
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0


class WebhookDispatcher:
    """Listens to session updates and delivers them to every configured URL."""

    def __init__(
        self,
        settings: WebhookSettings,
        payload: Callable[[SessionUpdate], dict[str, Any]],
        centre_ids: Mapping[str, int],
    ) -> None:
        """``payload`` gives the JSON posted for one session event (the API's own form);
        ``centre_ids`` the id of each centre code the endpoints name."""
        self.settings = settings
        self.payload = payload
        endpoints = [(url, DEFAULT_CENTRE_CODE) for url in settings.urls]
        endpoints += [(endpoint.url, endpoint.centre) for endpoint in settings.endpoints]
        self._targets = [
            _Target(url, centre_ids[code], deque(maxlen=settings.queue_size))
            for url, code in endpoints
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Start one worker per URL (nothing to do when none is configured)."""
        if not self._targets:
            return
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout)
        )
        self._tasks = [
            asyncio.create_task(self._worker(target), name=f"webhook {target.url}")
            for target in self._targets
        ]

    async def close(self) -> None:
        """Stop the workers; undelivered events are dropped (the store keeps the log)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._http is not None:
            await self._http.close()
            self._http = None
        for target in self._targets:
            if target.queue:
                log.warning(
                    "webhook %s: %d events not delivered at shutdown", target.url, len(target.queue)
                )

    def on_session(self, update: SessionUpdate) -> None:
        """Session listener: queue the event for every URL of the session's centre, at once (the
        instance that wrote it delivers it: never twice across instances)."""
        if update.elsewhere:
            return
        targets = [t for t in self._targets if t.centre_id == update.session.centre_id]
        if not targets:
            return
        payload = self.payload(update)
        self._queue(targets, json.dumps(payload, separators=(",", ":")).encode())
        if update.event.type in _ENDINGS:
            announcement = report_announcement(update, payload)
            self._queue(targets, json.dumps(announcement, separators=(",", ":")).encode())

    def _queue(self, targets: list[_Target], body: bytes) -> None:
        for target in targets:
            if len(target.queue) == target.queue.maxlen:
                target.dropped += 1
                if target.dropped == 1 or target.dropped % 100 == 0:
                    log.error(
                        "webhook %s: queue full, %d oldest events dropped",
                        target.url,
                        target.dropped,
                    )
            target.queue.append(body)
            target.wakeup.set()

    async def _worker(self, target: _Target) -> None:
        while True:
            while not target.queue:
                target.wakeup.clear()
                await target.wakeup.wait()
            body = target.queue[0]
            if await self._deliver(target.url, body):
                if target.queue and target.queue[0] is body:
                    target.queue.popleft()
            else:
                log.error(
                    "webhook %s: event dropped after %d attempts",
                    target.url,
                    self.settings.max_attempts,
                )
                if target.queue and target.queue[0] is body:
                    target.queue.popleft()

    async def _deliver(self, url: str, body: bytes) -> bool:
        assert self._http is not None
        secret = self.settings.secret.get_secret_value()
        delay = 1.0
        failing = False
        for attempt in range(1, self.settings.max_attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-VisioRegul-Timestamp": timestamp,
                "X-VisioRegul-Signature": sign(secret, timestamp, body),
            }
            try:
                async with self._http.post(url, data=body, headers=headers) as response:
                    if response.status < 300:
                        if failing:
                            log.info("webhook %s: delivering again", url)
                        return True
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if not failing:
                log.warning("webhook %s failing (%s); retrying with backoff", url, problem)
                failing = True
            if attempt < self.settings.max_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
        return False
