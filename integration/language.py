"""The language of a request's browser: what the patient's page, the API and the console (when
its reader made no choice) answer in."""

from __future__ import annotations

from aiohttp import web

from . import appkeys

__all__ = ["browser_language"]


def browser_language(request: web.Request) -> str:
    """The language to answer ``request`` in: ``Accept-Language``, else the configured one."""
    catalogue = request.app[appkeys.CATALOGUE]
    default = request.app[appkeys.SETTINGS].service.language
    return catalogue.negotiate(request.headers.get("Accept-Language"), default)
