"""Documents and photos over HTTP, the patient page's side: ``/p/<token>/documents``.

Authenticated like the page itself, by the link and its browser's key cookie (scoped to the
link's path, it comes along); a link that is not valid for this browser (unknown, expired, ended
session, bound to another browser) gets one refusal whatever the reason.

- ``POST /p/{token}/documents``: a file or photo from the phone (the body is the file, ``?name=``
  its name; ``kind=photo&command=<id>`` for the photo the regulator asked for);
- ``GET /p/{token}/documents``: what was sent to the patient and what they sent, newest first;
- ``GET /p/{token}/documents/{doc}``: one of them (``?inline=1`` opens an image or a PDF in the
  browser, sandboxed; else an attachment);
- resumable uploads (:mod:`visioregul.integration.uploads`), what the page uses on a weak
  network: ``POST /p/{token}/uploads?name=&size=`` (with ``kind``/``command`` as above) announces
  a file (``mode=photo_mode`` for a photo sent because video cannot pass) and answers
  ``{"id", "offset": 0, "size"}``; ``PATCH /p/{token}/uploads/{id}`` with
  ``Content-Range: bytes <start>-<end>/<size>`` adds bytes from the service's offset (200
  ``{"offset"}`` while incomplete, 201 with ``"document"`` once kept; 409 with
  ``details.offset`` when ``start`` is not the service's offset); ``GET /p/{token}/uploads/{id}``
  tells how far it got after a failure.

Refusals are JSON (``error_id``, ``message`` in the browser's language), with the same statuses
as the console's routes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from visioregul.integration import appkeys
from visioregul.integration.documents import (
    DOCUMENT,
    FROM_PATIENT,
    PHOTO,
    Document,
    DocumentEmpty,
    DocumentLinkRefused,
    DocumentNotFound,
    DocumentTooLarge,
    DocumentTypeRefused,
    PhotoNotImage,
    SessionFilesFull,
    TooManyDocuments,
)
from visioregul.integration.downloads import (
    DOCUMENT_ID,
    body_chunks,
    document_json,
    stream_document,
    upload_name,
)
from visioregul.integration.errors import DomainError, error_body
from visioregul.integration.language import browser_language
from visioregul.integration.sessions.errors import SessionClosed, SessionNotFound
from visioregul.integration.sessions.links import LinkAccess
from visioregul.integration.sessions.services import Actor
from visioregul.integration.uploads import Upload, UploadNotFound, UploadOffsetMismatch

from .http import DEVICE_COOKIE

__all__ = ["page_json", "routes"]

routes = web.RouteTableDef()

_COMMAND_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_RANGE = re.compile(r"^bytes (\d{1,12})-(\d{1,12})/(\d{1,12})$")
_SIZE = re.compile(r"^\d{1,12}$")
_STATUS: Mapping[type[DomainError], int] = {
    DocumentTooLarge: 413,
    SessionFilesFull: 413,
    DocumentTypeRefused: 415,
    DocumentEmpty: 400,
    DocumentNotFound: 404,
    DocumentLinkRefused: 404,
    TooManyDocuments: 429,
    PhotoNotImage: 415,
    UploadNotFound: 404,
    UploadOffsetMismatch: 409,
    SessionClosed: 404,
    SessionNotFound: 404,
}
"""The statuses of the console's table (``web/errors.py``) for what these routes raise; an ended
session is a refused link here (the page's link no longer works)."""


def page_json(token: str, document: Document) -> dict[str, Any]:
    """A document as the patient's page gets it: its URL under the link, and no regulator's
    name."""
    body = document_json(document, f"/p/{token}/documents/{document.id}")
    body["sent_by"] = "patient" if document.direction == FROM_PATIENT else "regulator"
    return body


async def _link(request: web.Request) -> LinkAccess:
    access = await request.app[appkeys.SESSION_SERVICE].links.check(
        request.match_info["token"], request.cookies.get(DEVICE_COOKIE)
    )
    if access is None or access.role != "patient":
        raise DocumentLinkRefused()
    return access


def _refusal(request: web.Request, error: DomainError) -> web.Response:
    if isinstance(error, SessionClosed | SessionNotFound):
        error = DocumentLinkRefused()
    body = error_body(error, request.app[appkeys.CATALOGUE], browser_language(request))
    status = next((code for cls, code in _STATUS.items() if isinstance(error, cls)), 400)
    response = web.json_response(body, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _kind(request: web.Request) -> tuple[str, str]:
    """The upload's ``kind`` and the regulator's command it answers, if any."""
    kind = request.query.get("kind", DOCUMENT)
    command = request.query.get("command", "")
    if kind not in (DOCUMENT, PHOTO) or (command and not _COMMAND_ID.fullmatch(command)):
        raise DomainError("invalid_request")
    return kind, command


def _details(request: web.Request, command: str) -> dict[str, object] | None:
    """What the upload's event says beyond the file: the command it answers, and
    ``photo_mode`` for a photo the page sent because video could not pass (``?mode=``)."""
    mode = request.query.get("mode", "")
    if mode not in ("", "photo_mode"):
        raise DomainError("invalid_request")
    details: dict[str, object] = {"command_id": command} if command else {}
    if mode:
        details["photo_mode"] = True
    return details or None


@routes.post("/p/{token}/documents")
async def receive_from_patient(request: web.Request) -> web.Response:
    """A file or photo from the patient's phone."""
    token = request.match_info["token"]
    try:
        access = await _link(request)
        kind, command = _kind(request)
        documents = request.app[appkeys.DOCUMENTS]
        await documents.check_open(access.session_id, FROM_PATIENT, request.content_length)
        document = await documents.receive(
            access.session_id,
            Actor(access.role),
            direction=FROM_PATIENT,
            name=upload_name(request),
            chunks=body_chunks(request),
            kind=kind,
            details={"command_id": command} if command else None,
        )
    except DomainError as error:
        return _refusal(request, error)
    return web.json_response(page_json(token, document), status=201)


@routes.get("/p/{token}/documents")
async def list_for_patient(request: web.Request) -> web.Response:
    """What was sent to the patient and what they sent, newest first."""
    token = request.match_info["token"]
    try:
        access = await _link(request)
        documents = await request.app[appkeys.DOCUMENTS].list(access.session_id)
    except DomainError as error:
        return _refusal(request, error)
    response = web.json_response(
        {
            "documents": [page_json(token, item) for item in documents],
            "max_file_bytes": request.app[appkeys.DOCUMENTS].max_file,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/p/{token}/documents/{document_id}")
async def download_for_patient(request: web.Request) -> web.StreamResponse:
    """One of the session's documents (``?inline=1`` to open an image or a PDF)."""
    try:
        access = await _link(request)
        document_id = request.match_info["document_id"]
        if not DOCUMENT_ID.fullmatch(document_id):
            raise DocumentNotFound()
        document, chunks = await request.app[appkeys.DOCUMENTS].read(access.session_id, document_id)
    except DomainError as error:
        return _refusal(request, error)
    return await stream_document(
        request, document, chunks, inline=request.query.get("inline") == "1"
    )


def _upload_json(token: str, upload: Upload) -> dict[str, Any]:
    body: dict[str, Any] = {"id": upload.id, "offset": upload.received, "size": upload.size}
    if upload.document is not None:
        body["document"] = page_json(token, upload.document)
    return body


def _upload_id(request: web.Request) -> str:
    upload_id = request.match_info["upload_id"]
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise UploadNotFound()
    return upload_id


@routes.post("/p/{token}/uploads")
async def start_upload(request: web.Request) -> web.Response:
    """Announce a file from the patient's phone (``?name=&size=``, ``kind``, ``command``)."""
    token = request.match_info["token"]
    try:
        access = await _link(request)
        kind, command = _kind(request)
        size = request.query.get("size", "")
        if not _SIZE.fullmatch(size):
            raise DomainError("invalid_request")
        upload = await request.app[appkeys.UPLOADS].create(
            access.session_id,
            Actor(access.role),
            name=upload_name(request),
            kind=kind,
            size=int(size),
            details=_details(request, command),
        )
    except DomainError as error:
        return _refusal(request, error)
    response = web.json_response(_upload_json(token, upload), status=201)
    response.headers["Location"] = f"/p/{token}/uploads/{upload.id}"
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/p/{token}/uploads/{upload_id}")
async def upload_status(request: web.Request) -> web.Response:
    """How far an upload got (asked after a failure)."""
    token = request.match_info["token"]
    try:
        access = await _link(request)
        upload = await request.app[appkeys.UPLOADS].status(access.session_id, _upload_id(request))
    except DomainError as error:
        return _refusal(request, error)
    response = web.json_response(_upload_json(token, upload))
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.patch("/p/{token}/uploads/{upload_id}")
async def continue_upload(request: web.Request) -> web.Response:
    """Bytes of an upload from the service's offset (``Content-Range``)."""
    token = request.match_info["token"]
    try:
        access = await _link(request)
        upload_id = _upload_id(request)
        uploads = request.app[appkeys.UPLOADS]
        found = _CONTENT_RANGE.fullmatch(request.headers.get("Content-Range", ""))
        upload = await uploads.status(access.session_id, upload_id)
        if found is None or int(found[3]) != upload.size or int(found[1]) > int(found[2]):
            raise DomainError("invalid_request")
        upload = await uploads.append(
            access.session_id, upload_id, int(found[1]), body_chunks(request)
        )
    except DomainError as error:
        return _refusal(request, error)
    status = 201 if upload.document is not None else 200
    response = web.json_response(_upload_json(token, upload), status=status)
    response.headers["Cache-Control"] = "no-store"
    return response
