"""Sending a session's document back over HTTP: its JSON, its download headers, its bytes.

Shared by the console's routes (:mod:`.web.documents_http`) and the patient page's
(:mod:`visioregul.patient_page.documents`). Downloads are never cached nor sniffed (health
data), named with an RFC 5987 ``filename*``; shown inline only for an image or a PDF, and then
sandboxed (no script, no form, no same origin).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .documents import Document
from .upload_types import IMAGE_TYPES, PDF

__all__ = [
    "CHUNK",
    "DOCUMENT_ID",
    "body_chunks",
    "content_disposition",
    "document_json",
    "stream_document",
    "upload_name",
]

CHUNK = 256 * 1024
"""Bytes read from an upload's body at a time."""
DOCUMENT_ID = re.compile(r"^[0-9a-f]{32}$")
SANDBOX = (
    "sandbox; default-src 'none'; img-src 'self'; object-src 'self'; style-src 'unsafe-inline'"
)


def content_disposition(name: str, *, inline: bool = False) -> str:
    """``attachment`` (or ``inline``) with an ASCII ``filename`` and the exact UTF-8 name as
    ``filename*`` (RFC 5987/6266): the name is already clean, no quote or backslash in it."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def document_json(document: Document, url: str) -> dict[str, Any]:
    """A document as the console and the page get it."""
    return {
        "id": document.id,
        "kind": document.kind,
        "direction": document.direction,
        "name": document.name,
        "content_type": document.content_type,
        "size": document.size,
        "sent_at": document.sent_at.isoformat(),
        "sent_by": document.sent_by,
        "url": url,
    }


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request's body as it arrives, :data:`CHUNK` bytes at a time at most."""
    async for chunk in request.content.iter_chunked(CHUNK):
        yield chunk


def upload_name(request: web.Request) -> str:
    """The name the sender gave (``?name=``), bounded before the domain cleans it."""
    return request.query.get("name", "")[:1000]


async def stream_document(
    request: web.Request, document: Document, chunks: AsyncIterator[bytes], *, inline: bool
) -> web.StreamResponse:
    """The document's bytes as the response."""
    inline = inline and (document.content_type in IMAGE_TYPES or document.content_type == PDF)
    response = web.StreamResponse(
        headers={
            "Content-Type": document.content_type,
            "Content-Disposition": content_disposition(document.name, inline=inline),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": SANDBOX,
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cross-Origin-Resource-Policy": "same-origin",
        }
    )
    response.content_length = document.size
    await response.prepare(request)
    if request.method != "HEAD":
        async for chunk in chunks:
            await response.write(chunk)
    await response.write_eof()
    return response
