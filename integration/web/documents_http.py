"""Documents and photos over HTTP, the console's side.

Regulators and doctors of the session's centre (checked by the authorization middleware; sending
needs the CSRF token): ``POST /console/api/sessions/{id}/documents`` sends a document to the
patient, ``GET .../documents`` lists both ways, ``GET .../documents/{doc}`` downloads one
(``?inline=1`` shows an image or a PDF, sandboxed).

An upload is the request's raw body (the file itself), its name in the ``name`` query
parameter: streamed to the storage chunk by chunk, refused at once when the announced
``Content-Length`` is already too large, and as soon as a chunked body passes the limit (413,
nothing kept). Its type is read from its content by the domain. The patient page's side is
:mod:`visioregul.patient_page.documents`.
"""

from __future__ import annotations

from aiohttp import web

from ..documents import TO_PATIENT, Document, DocumentNotFound
from ..downloads import DOCUMENT_ID, body_chunks, document_json, stream_document, upload_name
from ..sessions.services import Actor
from . import appkeys
from .console import authenticated, check_csrf

__all__ = ["routes"]

routes = web.RouteTableDef()


def _url(document: Document) -> str:
    return f"/console/api/sessions/{document.session_id}/documents/{document.id}"


async def _actor(request: web.Request, *, unsafe: bool) -> Actor:
    session, account = await authenticated(request)
    if unsafe:
        check_csrf(request, session)
    return Actor(account.username, session.position)


@routes.post("/console/api/sessions/{session_id}/documents")
async def send_document(request: web.Request) -> web.Response:
    """A document (image, PDF) for the patient: the body is the file, ``?name=`` its name."""
    actor = await _actor(request, unsafe=True)
    session_id = request.match_info["session_id"]
    documents = request.app[appkeys.DOCUMENTS]
    await documents.check_open(session_id, TO_PATIENT, request.content_length)
    document = await documents.receive(
        session_id,
        actor,
        direction=TO_PATIENT,
        name=upload_name(request),
        chunks=body_chunks(request),
    )
    return web.json_response(document_json(document, _url(document)), status=201)


@routes.get("/console/api/sessions/{session_id}/documents")
async def list_documents(request: web.Request) -> web.Response:
    """The session's documents and photos, both ways, newest first."""
    await _actor(request, unsafe=False)
    documents = await request.app[appkeys.DOCUMENTS].list(request.match_info["session_id"])
    return web.json_response(
        {"documents": [document_json(document, _url(document)) for document in documents]}
    )


@routes.get("/console/api/sessions/{session_id}/documents/{document_id}")
async def download_document(request: web.Request) -> web.StreamResponse:
    """One document's bytes, as an attachment (``?inline=1``: an image or PDF shown, sandboxed)."""
    await _actor(request, unsafe=False)
    document_id = request.match_info["document_id"]
    if not DOCUMENT_ID.fullmatch(document_id):
        raise DocumentNotFound()
    document, chunks = await request.app[appkeys.DOCUMENTS].read(
        request.match_info["session_id"], document_id
    )
    return await stream_document(
        request, document, chunks, inline=request.query.get("inline") == "1"
    )
