"""A session's report: the printable page, the PDF, the CAD's copy and files, the webhook that
announces it, the audit log, and another centre's session answered as an unknown one."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from PIL import Image
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy import text

from visioregul.integration import appkeys, audit
from visioregul.integration.app import create_app
from visioregul.integration.sessions.services import Actor
from visioregul.integration.settings import WebhookSettings

from .conftest import CAD_KEY, ClientFactory, login, make_settings
from .helpers import add_regulator, open_session
from .test_cad_webhooks import SECRET, Receiver, serve, until

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {CAD_KEY}"}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    """A real JPEG picture of one colour."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG", quality=80)
    return out.getvalue()


async def _chunks(data: bytes) -> Any:
    yield data


async def _session_with_everything(client: Client) -> dict[str, Any]:
    """A session paired with a call, a hostile message and document name, a regulator whose
    display name holds markup, two stills, then ended."""
    csrf = await login(client)
    session = await open_session(client, csrf)
    app = client.app
    async with app[appkeys.DB].begin() as db:
        await db.execute(
            text(
                "UPDATE visio_sessions SET caller_number = '+33612345678', call_id = "
                "'1733400000.42', created_at = :at WHERE id = :id"
            ),
            {"id": session["id"], "at": datetime(2026, 7, 14, 21, 30, 5, tzinfo=UTC)},
        )
        await db.execute(
            text("UPDATE accounts SET display_name = :name WHERE username = 'regulateur'"),
            {"name": "Dr Martin <b>gras</b>"},
        )
    service = app[appkeys.SESSION_SERVICE]
    actor = Actor("regulateur", "PJSIP/1001")
    await service.record(session["id"], actor, "text.sent", {"text": HOSTILE})
    await app[appkeys.STILLS].keep(session["id"], actor, jpeg((200, 40, 40)))
    await app[appkeys.STILLS].keep(session["id"], actor, jpeg((40, 40, 200), (640, 360)))
    await app[appkeys.DOCUMENTS].receive(
        session["id"],
        actor,
        direction="to_patient",
        name=f"{HOSTILE}.pdf",
        chunks=_chunks(b"%PDF-1.7\n%%EOF\n"),
    )
    response = await client.post(
        f"/console/api/sessions/{session['id']}/end",
        json={"reason": "ended_by_regulator"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 200, await response.text()
    return session


def _pdf_text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), sum(
        len(page.images) for page in reader.pages
    )


async def test_given_an_ended_session_when_printing_its_report_then_everything_is_there_escaped(
    client: Client,
) -> None:
    session = await _session_with_everything(client)

    response = await client.get(f"/console/sessions/{session['id']}/report")

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    assert "Rapport de visio" in page
    assert "Centre 15" in page
    # 21:30:05 UTC in July is 23:30:05 in Paris (the centre's time zone).
    assert "14/07/2026 23:30:05" in page
    assert "06\u00a012\u00a034\u00a056\u00a078" in page
    assert "1733400000.42" in page
    assert "SMS simulé pour le 06\u00a012\u00a034\u00a056\u00a078" in page
    assert "Visio terminée par Dr Martin &lt;b&gt;gras&lt;/b&gt;" in page
    # Whatever users typed is shown as text, never as markup.
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>gras" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count('src="data:image/jpeg;base64,') == 2
    assert '<link rel="stylesheet" href="/console/static/report.css">' in page
    assert "<style" not in page and "onclick" not in page


async def test_given_an_ended_session_when_downloading_the_pdf_then_its_text_and_stills_and_audit(
    client: Client,
) -> None:
    session = await _session_with_everything(client)

    response = await client.get(f"/console/api/sessions/{session['id']}/report.pdf")

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="rapport-visio-2026-07-14-{session["id"][:8]}.pdf"'
    )
    content, images = _pdf_text(await response.read())
    assert images == 2
    for expected in (
        "Rapport de visio",
        "Centre 15",
        "14/07/2026 23:30:05",
        "Europe/Paris",
        "Dr Martin <b>gras</b>",
        "1733400000.42",
        "Message au patient, par Dr Martin <b>gras</b>",
        'alert("x")',
        "Capture n°",
        "Visio terminée par",
    ):
        assert expected in content.replace("\u00a0", " ").replace("\n", " "), expected
    async with client.app[appkeys.DB]() as db:
        entries = await audit.recent(db, action="report.downloaded")
    assert [(entry.actor, entry.target) for entry in entries] == [("regulateur", session["id"])]


async def test_given_the_cad_key_then_it_gets_the_pdf_and_the_files_of_its_centre_only(
    client: Client,
) -> None:
    session = await _session_with_everything(client)
    base = f"/api/v1/sessions/{session['id']}"

    pdf = await client.get(f"{base}/report.pdf", headers=AUTH)
    assert pdf.status == 200
    assert (await pdf.read()).startswith(b"%PDF-")
    files = (await (await client.get(f"{base}/files", headers=AUTH)).json())["files"]
    assert [item["kind"] for item in files] == ["screenshot", "screenshot", "document"]
    assert files[2]["name"].endswith(".pdf") and files[2]["direction"] == "to_patient"
    first = await client.get(files[0]["url"], headers=AUTH)
    assert first.status == 200 and first.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(await first.read())).size == (320, 240)
    document = await client.get(files[2]["url"], headers=AUTH)
    assert document.status == 200 and await document.read() == b"%PDF-1.7\n%%EOF\n"
    async with client.app[appkeys.DB]() as db:
        downloads = await audit.recent(db, action="report.downloaded")
        fetched = await audit.recent(db, action="file.downloaded")
    assert [entry.actor for entry in downloads] == [f"cad:{_key_id()}:regulateur"]
    assert len(fetched) == 2
    unknown_file = await client.get(f"{base}/files/{'0' * 32}", headers=AUTH)
    assert unknown_file.status == 404

    # The same session moved to another centre: exactly as an unknown one, for key and console.
    async with client.app[appkeys.DB].begin() as db:
        await db.execute(text("INSERT INTO centres (id, code, name) VALUES (2, 'b', 'SAMU B')"))
        await db.execute(
            text("UPDATE visio_sessions SET centre_id = 2 WHERE id = :id"), {"id": session["id"]}
        )
    for path in (f"{base}/report.pdf", f"{base}/files", files[0]["url"]):
        foreign = await client.get(path, headers=AUTH)
        unknown = await client.get(path.replace(session["id"], "f" * 32), headers=AUTH)
        assert foreign.status == unknown.status == 404, path
        assert await foreign.json() == await unknown.json()
    for path in (
        f"/console/sessions/{session['id']}/report",
        f"/console/api/sessions/{session['id']}/report.pdf",
    ):
        assert (await client.get(path)).status == 404, path


def _key_id() -> str:
    import hashlib

    return hashlib.sha256(CAD_KEY.encode()).hexdigest()[:12]


async def test_given_a_webhook_when_a_session_ends_then_report_available_announces_the_pdf(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    receiver = Receiver()
    server = await serve(receiver)
    settings = make_settings(tmp_path)
    settings.webhooks = WebhookSettings(
        urls=[str(server.make_url("/hook"))], secret=SecretStr(SECRET)
    )
    client: Client = await aiohttp_client(create_app(settings))
    await add_regulator(client.app)
    csrf = await login(client)
    session = await open_session(client, csrf)
    await client.post(
        f"/console/api/sessions/{session['id']}/end", json={}, headers={"X-CSRF-Token": csrf}
    )

    await until(lambda: any(e["event"]["type"] == "report.available" for e in receiver.events))

    assert receiver.bad_signatures == 0
    types = [event["event"]["type"] for event in receiver.events]
    assert types[-2:] == ["session.ended", "report.available"]
    announcement = receiver.events[-1]
    assert announcement["session_id"] == session["id"]
    assert announcement["session"]["state"] == "ended"
    details = announcement["event"]["details"]
    assert details == {
        "report_url": f"/api/v1/sessions/{session['id']}/report.pdf",
        "files_url": f"/api/v1/sessions/{session['id']}/files",
    }
    pdf = await client.get(details["report_url"], headers=AUTH)
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF-")
    json.dumps(announcement)
    await server.close()
