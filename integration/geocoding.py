"""Reverse geocoding: the postal address nearest to the caller's coordinates.

By default the national geoplatform's reverse API (``https://data.geopf.fr/geocodage/reverse``,
``lon``/``lat``/``limit=1``/``index=address``, answering a GeoJSON ``FeatureCollection`` whose
first feature's ``properties.label`` is the address). Privacy: with it on, the caller's
coordinates leave the centre for that public service (over HTTPS, without any identifier of the
call); ``[geocoding] enabled = false`` keeps them inside, and the regulator then sees the
coordinates and the map links only.

The address is a convenience: any failure (timeout, an HTTP error, an answer that is not the
expected JSON, the client-side rate limit reached) gives ``None`` and the coordinates alone, never
an error to the regulator. The provider allows 50 requests a second from one address: the client
stays below :attr:`GeocodingSettings.per_second`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .settings import GeocodingSettings

__all__ = ["ReverseGeocoder"]

log = logging.getLogger(__name__)

_MAX_ANSWER = 256 * 1024
"""A one-feature answer is a few hundred bytes; more is not an address."""
_MAX_LABEL = 300


@dataclass
class ReverseGeocoder:
    """Turns coordinates into an address through the configured provider (or not at all)."""

    settings: GeocodingSettings
    _session: aiohttp.ClientSession | None = None
    _sent: deque[float] = field(default_factory=deque)

    @property
    def enabled(self) -> bool:
        """Whether coordinates are sent to the provider."""
        return self.settings.enabled

    async def address(self, latitude: float, longitude: float) -> str | None:
        """The address nearest to the point, or None (disabled, failed, nothing found)."""
        if not self.settings.enabled or not self._admit():
            return None
        params = {"lon": f"{longitude:.6f}", "lat": f"{latitude:.6f}", "limit": "1"}
        if self.settings.index:
            params["index"] = self.settings.index
        try:
            async with asyncio.timeout(self.settings.timeout):
                session = self._client()
                async with session.get(self.settings.url, params=params) as response:
                    if response.status != 200:
                        log.warning("reverse geocoding answered HTTP %s", response.status)
                        return None
                    body = await response.content.read(_MAX_ANSWER + 1)
        except TimeoutError:
            log.warning("reverse geocoding timed out after %s s", self.settings.timeout)
            return None
        except aiohttp.ClientError as error:
            log.warning("reverse geocoding failed: %s", error)
            return None
        if len(body) > _MAX_ANSWER:
            log.warning("reverse geocoding answer too large")
            return None
        return _label(body)

    async def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "VisioRegul", "Accept": "application/json"}
            )
        return self._session

    def _admit(self) -> bool:
        """Stay under the provider's limit: past it, this fix goes without an address."""
        now = time.monotonic()
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()
        if len(self._sent) >= self.settings.per_second:
            log.warning("reverse geocoding skipped: %s requests this second", len(self._sent))
            return False
        self._sent.append(now)
        return True


def _label(body: bytes) -> str | None:
    """The first feature's ``properties.label`` of a GeoJSON answer; None otherwise."""
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        log.warning("reverse geocoding answer is not JSON")
        return None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features or not isinstance(features[0], dict):
        return None
    properties = features[0].get("properties")
    label = properties.get("label") if isinstance(properties, dict) else None
    if not isinstance(label, str):
        return None
    label = " ".join(label.split())[:_MAX_LABEL]
    return label or None
