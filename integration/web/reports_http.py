"""A session's report and files over HTTP: the console's printable page and PDF, the CAD's PDF
and files.

Who may call them (regulators and doctors of the session's centre; a CAD key acting for one) is
checked before the handler runs, by the authorization middleware: another centre's session is
answered as an unknown one (404). Every view and download of a report goes in the audit log.
Reports and files are health data: never cached, never sniffed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .. import audit
from ..client_address import client_address
from ..documents import DocumentNotFound
from ..downloads import DOCUMENT_ID, stream_document
from ..report_html import render_html
from ..report_pdf import render_pdf
from ..reports import Report, build_report, file_name
from ..stills import StillNotFound
from . import appkeys
from .console import authenticated
from .middleware import request_language
from .stills_http import download_name, session_time_zone

__all__ = ["routes"]

routes = web.RouteTableDef()

_PRIVATE = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


async def _report(request: web.Request) -> Report:
    app = request.app
    return await build_report(
        app[appkeys.SESSION_SERVICE],
        app[appkeys.STILLS],
        app[appkeys.DOCUMENTS],
        app[appkeys.CATALOGUE],
        request.match_info["session_id"],
        time_zone=await session_time_zone(request, request.match_info["session_id"]),
        language=request_language(request),
    )


async def _audit(request: web.Request, actor: str, action: str, session_id: str) -> None:
    async with request.app[appkeys.DB].begin() as db:
        await audit.record(
            db,
            actor=actor,
            action=action,
            target=session_id,
            details={"remote": client_address(request)},
        )


def _cad_actor(request: web.Request) -> str:
    principal = request[appkeys.PRINCIPAL]
    return f"{audit.cad_actor(principal.api_key or '')}:{principal.username or ''}"[:128]


async def _pdf_response(request: web.Request, actor: str) -> web.Response:
    report = await _report(request)
    # fpdf2 is pure Python: drawing 20 stills must not hold up the other requests.
    pdf = await asyncio.to_thread(render_pdf, report)
    await _audit(request, actor, "report.downloaded", report.session_id)
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{file_name(report, "pdf")}"',
            **_PRIVATE,
        },
    )


# -- console -----------------------------------------------------------------------------------


@routes.get("/console/sessions/{session_id}/report")
async def console_report_page(request: web.Request) -> web.Response:
    """The report as a printable page (its print style sheet hides the buttons)."""
    _, account = await authenticated(request)
    report = await _report(request)
    session_id = report.session_id
    await _audit(request, account.username, "report.viewed", session_id)
    page = render_html(
        report,
        pdf_url=f"/console/api/sessions/{session_id}/report.pdf",
        back_url=f"/console#/session/{session_id}",
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=_PRIVATE)


@routes.get("/console/api/sessions/{session_id}/report.pdf")
async def console_report_pdf(request: web.Request) -> web.Response:
    """The report's PDF, as an attachment."""
    _, account = await authenticated(request)
    return await _pdf_response(request, account.username)


# -- CAD ---------------------------------------------------------------------------------------


def _file_json(session_id: str, kind: str, file_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": file_id,
        "kind": kind,
        "url": f"/api/v1/sessions/{session_id}/files/{file_id}",
        **fields,
    }


@routes.get("/api/v1/sessions/{session_id}/report.pdf")
async def cad_report_pdf(request: web.Request) -> web.Response:
    """The report's PDF for the CAD (its key's centre only)."""
    return await _pdf_response(request, _cad_actor(request))


@routes.get("/api/v1/sessions/{session_id}/files")
async def cad_files(request: web.Request) -> web.Response:
    """The session's files: screenshots, documents and photos, oldest first."""
    session_id = request.match_info["session_id"]
    time_zone = await session_time_zone(request, session_id)
    stills = await request.app[appkeys.STILLS].list(session_id)
    documents = await request.app[appkeys.DOCUMENTS].list(session_id)
    files = [
        _file_json(
            session_id,
            "screenshot",
            still.id,
            name=download_name(still, time_zone),
            content_type=still.content_type,
            size=still.size,
            at=still.taken_at.isoformat(),
            direction=None,
        )
        for still in reversed(stills)
    ] + [
        _file_json(
            session_id,
            document.kind,
            document.id,
            name=document.name,
            content_type=document.content_type,
            size=document.size,
            at=document.sent_at.isoformat(),
            direction=document.direction,
        )
        for document in reversed(documents)
    ]
    files.sort(key=lambda item: str(item["at"]))
    return web.json_response({"files": files})


@routes.get("/api/v1/sessions/{session_id}/files/{file_id}")
async def cad_file(request: web.Request) -> web.StreamResponse:
    """One file's bytes, as an attachment."""
    session_id = request.match_info["session_id"]
    file_id = request.match_info["file_id"]
    if not DOCUMENT_ID.fullmatch(file_id):
        raise DocumentNotFound()
    stills = request.app[appkeys.STILLS]
    try:
        still, data = await stills.read(session_id, file_id)
    except StillNotFound:
        document, chunks = await request.app[appkeys.DOCUMENTS].read(session_id, file_id)
        await _audit(request, _cad_actor(request), "file.downloaded", session_id)
        return await stream_document(request, document, chunks, inline=False)
    await _audit(request, _cad_actor(request), "file.downloaded", session_id)
    name = download_name(still, await session_time_zone(request, session_id))
    return web.Response(
        body=data,
        content_type=still.content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', **_PRIVATE},
    )
