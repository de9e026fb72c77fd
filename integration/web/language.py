"""The console reader's choice of language: a cookie set by the pages' FR / EN switch.

The choice wins over the browser's ``Accept-Language`` for the console's pages and its API's
messages; the cookie is scoped to ``/console`` (the patient's pages follow the patient's browser).
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["LANGUAGE_COOKIE", "LANGUAGE_COOKIE_PATH", "chosen_language"]

LANGUAGE_COOKIE = "visioregul_lang"
LANGUAGE_COOKIE_PATH = "/console"


def chosen_language(request: web.Request, languages: list[str]) -> str | None:
    """The language the reader chose with the switch, if it is one of ``languages``."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in languages else None
