"""Documents and photos both ways through the real application: the regulator sends, the
patient's page lists, opens and sends back; every bad input gets a clear French refusal and
leaves nothing on disk; files go with their session at the purge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import ClientResponse, web
from sqlalchemy import func, select, update

from tests.store.conftest import NewDatabase
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.sessions.models import SessionFile, VisioSession
from visioregul.integration.settings import DatabaseSettings, DocumentSettings
from visioregul.integration.store.models import utcnow

from .conftest import make_settings, public_origin
from .helpers import events_of, has_event, wait_detail
from .patient import Client, invite, open_page, receive
from .test_remote_control import STATE, command, next_of

pytestmark = [pytest.mark.timeout(60)]

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200) + b"\xff\xd9"
N = "\u00a0"
LIMIT_MB = 1


@pytest.fixture
async def app(tmp_path: Path, new_database: NewDatabase) -> web.Application:
    """The service with a 1 MB file limit and 2.5 MB per session."""
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=await new_database())
    settings.documents = DocumentSettings(max_file_mb=LIMIT_MB, max_session_mb=2.5)
    return create_app(settings)


def _files(client: Client) -> Path:
    return client.app[appkeys.SETTINGS].service.data_dir / "files"


def _stored(client: Client) -> list[Path]:
    """Every file under the storage, temporary ones included."""
    root = _files(client)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


async def _send(
    client: Client, session_id: str, csrf: str, name: str, body: bytes
) -> ClientResponse:
    return await client.post(
        f"/console/api/sessions/{session_id}/documents?name={quote(name)}",
        data=body,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"},
    )


async def _upload(
    client: Client, token: str, name: str, body: object, query: str = ""
) -> ClientResponse:
    return await client.post(
        f"/p/{token}/documents?name={quote(name)}{query}",
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )


async def test_given_a_regulator_sending_a_pdf_then_the_patient_page_hears_of_it_and_opens_it(
    client: Client,
) -> None:
    session_id, token, csrf = await invite(client)
    page = await open_page(client, token)

    response = await _send(client, session_id, csrf, "Fiche gestes.pdf", PDF)

    assert response.status == 201, await response.text()
    sent = await response.json()
    assert sent["name"] == "Fiche gestes.pdf"
    assert sent["content_type"] == "application/pdf"
    assert (sent["direction"], sent["kind"], sent["size"]) == ("to_patient", "document", len(PDF))
    told = await receive(page)
    assert told["type"] == "document"
    assert told["document"]["id"] == sent["id"]
    assert told["document"]["sent_by"] == "regulator", "the patient is not told a login"
    assert told["document"]["url"] == f"/p/{token}/documents/{sent['id']}"

    listed = (await (await client.get(f"/p/{token}/documents")).json())["documents"]
    assert [item["id"] for item in listed] == [sent["id"]]
    saved = await client.get(told["document"]["url"])
    assert saved.status == 200
    assert await saved.read() == PDF
    assert saved.headers["Content-Type"] == "application/pdf"
    assert saved.headers["Content-Disposition"] == (
        "attachment; filename=\"Fiche gestes.pdf\"; filename*=UTF-8''Fiche%20gestes.pdf"
    )
    assert saved.headers["X-Content-Type-Options"] == "nosniff"
    assert saved.headers["Cache-Control"] == "no-store"
    opened = await client.get(told["document"]["url"] + "?inline=1")
    assert opened.headers["Content-Disposition"].startswith("inline; ")
    assert opened.headers["Content-Security-Policy"].startswith("sandbox")

    body = await wait_detail(client, session_id, has_event("document.sent"), "document.sent")
    (event,) = events_of(body, "document.sent")
    assert event["actor"] == "regulateur"
    assert event["details"]["document_id"] == sent["id"]
    await page.close()


async def test_given_the_patient_sending_photos_then_the_console_lists_and_downloads_them(
    client: Client,
) -> None:
    session_id, token, _csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200  # the page gives the browser its key

    photo = await _upload(client, token, "IMG_2041.JPG", JPEG)
    asked = await _upload(client, token, "photo.png", PNG, "&kind=photo&command=c-42")

    assert photo.status == 201, await photo.text()
    assert asked.status == 201, await asked.text()
    first, second = await photo.json(), await asked.json()
    assert (first["name"], first["content_type"]) == ("IMG_2041.jpg", "image/jpeg")
    assert (second["kind"], second["content_type"]) == ("photo", "image/png")
    url = f"/console/api/sessions/{session_id}/documents"
    listed = (await (await client.get(url)).json())["documents"]
    assert [item["id"] for item in listed] == [second["id"], first["id"]], "newest first"
    assert {item["direction"] for item in listed} == {"from_patient"}
    download = await client.get(listed[1]["url"])
    assert await download.read() == JPEG
    assert download.headers["Content-Disposition"].startswith('attachment; filename="IMG_2041.jpg"')

    body = await wait_detail(client, session_id, has_event("photo.taken"), "photo.taken")
    (received,) = events_of(body, "document.received")
    assert (received["actor"], received["details"]["name"]) == ("patient", "IMG_2041.jpg")
    (taken,) = events_of(body, "photo.taken")
    assert taken["details"]["command_id"] == "c-42"
    # Stills are another list: documents do not show among them.
    stills = await (await client.get(f"/console/api/sessions/{session_id}/stills")).json()
    assert stills == {"stills": []}


@pytest.mark.parametrize(
    ("name", "body", "error_id", "status"),
    [
        (
            "ordonnance.pdf",
            b"MZ\x90\x00\x03\x00\x00\x00" + bytes(100),
            "document_type_refused",
            415,
        ),
        (
            "schema.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "document_type_refused",
            415,
        ),
        (
            "page.png",
            b"<!doctype html><script>alert(1)</script>" + bytes(40),
            "document_type_refused",
            415,
        ),
        ("photos.jpg", b"PK\x03\x04" + bytes(100), "document_type_refused", 415),
        ("vide.jpg", b"", "document_empty", 400),
    ],
)
async def test_given_a_bad_file_when_sent_either_way_then_refused_in_french_and_nothing_kept(
    client: Client, name: str, body: bytes, error_id: str, status: int
) -> None:
    session_id, token, csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200

    for response in (
        await _send(client, session_id, csrf, name, body),
        await _upload(client, token, name, body),
    ):
        assert response.status == status, await response.text()
        refusal = await response.json()
        assert refusal["error_id"] == error_id
        assert "Rien n'a été" in refusal["message"] or "rien n'a été" in refusal["message"]

    assert _stored(client) == []
    listed = await (await client.get(f"/console/api/sessions/{session_id}/documents")).json()
    assert listed == {"documents": []}


async def test_given_a_refused_type_then_the_message_names_what_is_accepted(client: Client) -> None:
    session_id, _token, csrf = await invite(client)
    response = await _send(client, session_id, csrf, "x.pdf", b"MZ" + bytes(100))
    assert (await response.json())["message"] == (
        f"Ce type de fichier n'est pas accepté{N}: seulement des photos (JPEG, PNG, WebP, HEIC) "
        "et des PDF. Rien n'a été enregistré."
    )


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\system32\\cmd.pdf", "cmd.pdf"),
        ('<img src=x onerror="alert(1)">.pdf', "img src_x onerror_alert(1).pdf"),
        ("facture\u202egpj.exe", "facturegpj.pdf"),
        ("\x07\x1b\u200b.pdf", "document.pdf"),
        ("a" * 300 + ".pdf", "a" * 120 + ".pdf"),
        ("rapport.exe", "rapport.pdf"),
        ("Écho cardiaque — résultat.pdf", "Écho cardiaque — résultat.pdf"),
    ],
)
async def test_given_a_dangerous_name_then_it_is_cleaned_and_the_real_type_named(
    client: Client, given: str, kept: str
) -> None:
    session_id, _token, csrf = await invite(client)

    response = await _send(client, session_id, csrf, given, PDF)

    assert response.status == 201, await response.text()
    document = await response.json()
    assert document["name"] == kept
    download = await client.get(document["url"])
    disposition = download.headers["Content-Disposition"]
    assert disposition.endswith(f"filename*=UTF-8''{quote(kept, safe='')}")
    assert all(ord(char) < 128 for char in disposition)
    for path in _stored(client):
        assert path.is_relative_to(_files(client) / "sessions" / session_id)


async def test_given_a_2_gb_upload_announced_then_refused_before_reading_it(client: Client) -> None:
    session_id, token, csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    cookies = "; ".join(
        f"{cookie.key}={cookie.value}"
        for cookie in client.session.cookie_jar
        if cookie["path"] in ("/", f"/p/{token}")
    )
    for path, headers in (
        (f"/p/{token}/documents?name=huge.jpg", ""),
        (
            f"/console/api/sessions/{session_id}/documents?name=huge.pdf",
            f"X-CSRF-Token: {csrf}\r\n",
        ),
    ):
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: {client.host}\r\nCookie: {cookies}\r\n{headers}"
                f"Content-Type: application/octet-stream\r\nContent-Length: {2 * 1024**3}\r\n\r\n"
            ).encode()
            + JPEG[:100]
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        assert head.startswith(b"HTTP/1.1 413"), head

    assert _stored(client) == []


async def test_given_a_chunked_upload_past_the_limit_then_refused_midway_nothing_left(
    client: Client,
) -> None:
    session_id, token, csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield JPEG[:-2]
        for _ in range(3 * LIMIT_MB * 16):
            sent += 64 * 1024
            yield bytes(64 * 1024)

    response = await _upload(client, token, "grande.jpg", chunks())

    assert response.status == 413, await response.text()
    refusal = await response.json()
    assert refusal["error_id"] == "document_too_large"
    assert refusal["message"] == (
        f"Fichier trop volumineux{N}: {LIMIT_MB}{N}Mo au plus. Rien n'a été enregistré."
    )
    assert _stored(client) == [], "no temporary file left"
    # Under the limit, a file passes; the session's total is bounded too.
    for _ in range(2):
        ok = await _send(client, session_id, csrf, "plan.jpg", JPEG + bytes(900_000))
        assert ok.status == 201, await ok.text()
    full = await _send(client, session_id, csrf, "plan.jpg", JPEG + bytes(900_000))
    assert full.status == 413
    assert (await full.json())["error_id"] == "session_files_full"
    assert len(_stored(client)) == 2


async def test_given_a_forged_or_ended_link_then_uploads_and_downloads_are_refused(
    client: Client,
) -> None:
    session_id, token, csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    kept = await (await _upload(client, token, "avant.jpg", JPEG)).json()

    forged = await _upload(client, token[:-4] + "AAAA", "x.jpg", JPEG)
    assert forged.status == 404
    assert (await forged.json())["message"] == (
        f"Ce lien n'est plus valable{N}: la visio est terminée ou le lien a expiré. "
        "Rien n'a été envoyé."
    )
    await client.post(
        f"/console/api/sessions/{session_id}/end", json={}, headers={"X-CSRF-Token": csrf}
    )

    for response in (
        await _upload(client, token, "apres.jpg", JPEG),
        await client.get(f"/p/{token}/documents"),
        await client.get(f"/p/{token}/documents/{kept['id']}"),
    ):
        assert response.status == 404
        assert (await response.json())["error_id"] == "document_link_refused"
    refused = await _send(client, session_id, csrf, "x.pdf", PDF)
    assert refused.status == 409
    assert (await refused.json())["error_id"] == "session_closed"
    assert (
        await client.get(f"/console/api/sessions/{session_id}/documents/{kept['id']}")
    ).status == 200
    assert len(_stored(client)) == 1


async def test_given_a_flood_of_uploads_then_refused_with_a_delay(client: Client) -> None:
    _session_id, token, _csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    per_minute = client.app[appkeys.SETTINGS].documents.per_minute

    statuses = [(await _upload(client, token, "p.png", PNG)).status for _ in range(per_minute)]
    flood = await _upload(client, token, "p.png", PNG)

    assert statuses == [201] * per_minute
    assert flood.status == 429
    refusal = await flood.json()
    assert refusal["error_id"] == "too_many_documents"
    assert refusal["message"].startswith(f"Trop de fichiers d'un coup{N}: réessayez dans ")


async def test_given_an_ended_session_past_retention_then_its_documents_are_purged(
    client: Client,
) -> None:
    session_id, token, csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    assert (await _send(client, session_id, csrf, "a.pdf", PDF)).status == 201
    assert (await _upload(client, token, "b.jpg", JPEG)).status == 201
    assert len(_stored(client)) == 2
    await client.post(
        f"/console/api/sessions/{session_id}/end", json={}, headers={"X-CSRF-Token": csrf}
    )
    retention = client.app[appkeys.SETTINGS].sessions.retention_days
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(
            update(VisioSession)
            .where(VisioSession.id == session_id)
            .values(ended_at=utcnow() - timedelta(days=retention + 1))
        )

    assert await client.app[appkeys.SESSION_SERVICE].purge() == 1

    assert _stored(client) == []
    async with client.app[appkeys.DB]() as db:
        assert await db.scalar(select(func.count()).select_from(SessionFile)) == 0


async def test_given_photo_hd_asked_then_the_page_answers_and_its_upload_names_the_command(
    client: Client,
) -> None:
    session_id, token, _csrf = await invite(client)
    async with client.ws_connect("/console/ws", origin=public_origin(client)) as console:
        await console.send_json({"type": "watch", "session_id": session_id})
        page = await open_page(client, token)
        await page.send_json({"type": "camera.state", "state": STATE})
        reported = await next_of(console, "camera.state")
        while reported["state"] is None:
            reported = await next_of(console, "camera.state")

        # A value is no photo's: refused before anything reaches the phone.
        await console.send_json(command(session_id, "p0", "photo", 3))
        refused = await next_of(console, "command.result")
        assert (refused["ok"], refused["error_id"]) == (False, "remote_unavailable")

        await console.send_json(command(session_id, "p1", "photo"))
        asked = await next_of(page, "command")
        assert asked == {"type": "command", "v": 1, "id": "p1", "name": "photo", "value": None}
        await page.send_json({"type": "command.result", "id": "p1", "ok": True})
        result = await next_of(console, "command.result")
        assert (result["name"], result["ok"]) == ("photo", True)

        response = await _upload(client, token, "photo-hd.jpg", JPEG, "&kind=photo&command=p1")
        assert response.status == 201, await response.text()
        told = await next_of(page, "document")
        assert (told["document"]["kind"], told["document"]["direction"]) == (
            "photo",
            "from_patient",
        )
        await page.close()

    body = await wait_detail(client, session_id, has_event("photo.taken"), "photo.taken")
    (taken,) = events_of(body, "photo.taken")
    assert taken["details"]["command_id"] == "p1"
    assert [e["details"]["name"] for e in events_of(body, "command.sent")] == ["photo"]
