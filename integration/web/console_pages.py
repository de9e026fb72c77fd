"""The console's HTML pages (login and console), served in the reader's language.

The language is the one chosen with the page's FR / EN switch (a cookie, see :mod:`.language`),
else the best match of the browser's ``Accept-Language``, else the configured one (French). The
server writes ``<html lang>`` and the catalogue's text into every ``data-i18n`` element and
``data-i18n-<attribute>`` attribute, so a page reads right from its first paint, and without
script; the page's script loads the same catalogue for what it builds later.

The switch is a plain link to the same page with ``?lang=<language>``: the answer remembers the
choice in the cookie and sends the browser back to the page without the parameter.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from aiohttp import web
from multidict import MultiDict

from .. import appkeys
from .language import LANGUAGE_COOKIE, LANGUAGE_COOKIE_PATH
from .middleware import request_language

__all__ = ["STATIC_DIR", "localized_page", "render_page", "routes"]

routes = web.RouteTableDef()

STATIC_DIR = Path(__file__).with_name("static") / "console"
_CHOICE_MAX_AGE = 365 * 24 * 3600
_HTML_LANG = re.compile(r'<html lang="[^"]*"')
# An element whose whole content is text: ``<p data-i18n="key">Texte</p>``.
_TEXT = re.compile(
    r'(?P<open><(?P<tag>[a-z][a-z0-9]*)\b[^>]*?\sdata-i18n="(?P<key>[^"]+)"[^>]*>)'
    r"(?P<text>[^<]*)(?P<close></(?P=tag)>)"
)
_START_TAG = re.compile(r"<[a-z][a-z0-9]*\b[^>]*\sdata-i18n-[^>]*>")
_ATTRIBUTE_KEY = re.compile(r'\sdata-i18n-(?P<name>placeholder|title|aria-label)="(?P<key>[^"]+)"')


def _tag_name_end(tag: str) -> int:
    name = re.match(r"<[a-z][a-z0-9]*", tag)
    return name.end() if name else 1


def render_page(page: str, messages: dict[str, str], language: str) -> str:
    """``page`` with ``<html lang>``, its texts and attributes in ``language``'s ``messages``.

    Keys missing from ``messages`` keep the page's own (French) text; the switch's link to
    ``language`` is marked current.
    """
    page = _HTML_LANG.sub(f'<html lang="{language}"', page, count=1)

    def text(match: re.Match[str]) -> str:
        message = messages.get(match["key"])
        if message is None:
            return match[0]
        return f"{match['open']}{html.escape(message, quote=False)}{match['close']}"

    def attributes(match: re.Match[str]) -> str:
        tag = match[0]
        for found in _ATTRIBUTE_KEY.finditer(match[0]):
            message = messages.get(found["key"])
            if message is None:
                continue
            value = f'{found["name"]}="{html.escape(message)}"'
            # Replace the attribute's French value, or add the attribute after the tag name.
            existing = re.search(rf'\s{found["name"]}="[^"]*"', tag)
            start, end = existing.span() if existing else (_tag_name_end(tag),) * 2
            tag = f"{tag[:start]} {value}{tag[end:]}"
        return tag

    page = _TEXT.sub(text, page)
    page = _START_TAG.sub(attributes, page)
    return page.replace(
        f'data-language="{language}"', f'data-language="{language}" aria-current="true"'
    )


def localized_page(request: web.Request, name: str) -> web.StreamResponse:
    """The page ``name`` of ``static/console`` in the reader's language.

    With ``?lang=<language>`` (the switch), remember the choice and redirect to the same page
    without the parameter; an unknown language is ignored.
    """
    catalogue = request.app[appkeys.CATALOGUE]
    if "lang" in request.query:
        query = MultiDict(request.query)
        asked = query.popall("lang")[-1]
        response = web.Response(
            status=303, headers={"Location": str(request.rel_url.with_query(query))}
        )
        if asked in catalogue.languages and request.app[appkeys.SETTINGS].cad_link.frame_ancestors:
            # Framed by a CAD of another site: a Lax cookie would be refused there, like the
            # login cookie (``Partitioned``, which Python's cookies do not know: written by hand).
            response.headers.add(
                "Set-Cookie",
                f"{LANGUAGE_COOKIE}={asked}; Path={LANGUAGE_COOKIE_PATH}; "
                f"Max-Age={_CHOICE_MAX_AGE}; HttpOnly; Secure; SameSite=None; Partitioned",
            )
        elif asked in catalogue.languages:
            response.set_cookie(
                LANGUAGE_COOKIE,
                asked,
                max_age=_CHOICE_MAX_AGE,
                path=LANGUAGE_COOKIE_PATH,
                samesite="Lax",
                httponly=True,
                secure=request.app[appkeys.SETTINGS].console.secure_cookies,
            )
        return response
    language = request_language(request)
    page = (STATIC_DIR / name).read_text(encoding="utf-8")
    return web.Response(
        text=render_page(page, catalogue.bundle(language), language),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Language": language, "Vary": "Accept-Language, Cookie"},
    )


@routes.get("/console/sessions/{session_id}/video")
async def video_window(request: web.Request) -> web.StreamResponse:
    """The patient's video alone, in a separate window of the console (the room's « Fenêtre
    séparée »); the page watches the session over its own console socket."""
    return localized_page(request, "video-window.html")
