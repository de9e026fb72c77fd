"""The PDF report prints whatever people wrote: Vietnamese and Polish names, Arabic, emoji.

The report embeds DejaVu Sans (Debian's ``fonts-dejavu-core``, installed by
``tests/services/fonts.sh``); without it, it still prints, folded to Windows-1252.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pypdf import PdfReader
from sqlalchemy import text

from visioregul.integration import appkeys
from visioregul.integration.report_pdf import FONT_DIR, ReportFont, render_pdf, report_font
from visioregul.integration.reports import build_report
from visioregul.integration.sessions.services import Actor

from .conftest import login
from .helpers import open_session

Client = TestClient[web.Request, web.Application]

REGULATOR = "Dr Nguyễn Thị Łukasz-Żółć"
MESSAGE = "Restez calme 😀 nous arrivons — مرحبا، الإسعاف في الطريق"
DOCUMENT = "Ordonnance Ærø Ğül 🚑 وصفة"


async def _chunks(data: bytes) -> Any:
    yield data


async def _session(client: Client) -> str:
    """An ended session whose regulator, message and document are in many scripts."""
    csrf = await login(client)
    session = await open_session(client, csrf)
    app = client.app
    async with app[appkeys.DB].begin() as db:
        await db.execute(
            text("UPDATE accounts SET display_name = :name WHERE username = 'regulateur'"),
            {"name": REGULATOR},
        )
    actor = Actor("regulateur", "PJSIP/1001")
    await app[appkeys.SESSION_SERVICE].record(session["id"], actor, "text.sent", {"text": MESSAGE})
    await app[appkeys.DOCUMENTS].receive(
        session["id"],
        actor,
        direction="to_patient",
        name=f"{DOCUMENT}.pdf",
        chunks=_chunks(b"%PDF-1.7\n%%EOF\n"),
    )
    response = await client.post(
        f"/console/api/sessions/{session['id']}/end",
        json={"reason": "ended_by_regulator"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 200, await response.text()
    session_id: str = session["id"]
    return session_id


def _text(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(page.extract_text() for page in pages).replace("\n", " ").replace("\xa0", " ")


async def test_given_names_and_texts_in_many_scripts_then_the_pdf_prints_them(
    client: Client,
) -> None:
    assert report_font().files is not None, f"no DejaVu Sans in {FONT_DIR}: tests/services/fonts.sh"
    session_id = await _session(client)

    response = await client.get(f"/console/api/sessions/{session_id}/report.pdf")

    assert response.status == 200
    content = _text(await response.read())
    assert REGULATOR in content
    assert "Nguyễn" in content and "Łukasz-Żółć" in content
    assert "Restez calme 😀 nous arrivons" in content
    # Arabic, shaped right to left, reads back in its logical order.
    assert "مرحبا" in content and "الإسعاف" in content
    assert "Ærø Ğül" in content and "وصفة" in content
    # The ambulance is not in the font: a visible replacement, not a silent gap.
    assert "Ğül \ufffd" in content
    assert "Rapport de visio" in content and "Visio terminée par" in content


async def test_given_no_unicode_font_then_the_pdf_still_prints_folded(
    client: Client, tmp_path: Path
) -> None:
    session_id = await _session(client)
    app = client.app
    report = await build_report(
        app[appkeys.SESSION_SERVICE],
        app[appkeys.STILLS],
        app[appkeys.DOCUMENTS],
        app[appkeys.CATALOGUE],
        session_id,
        time_zone="Europe/Paris",
    )
    missing = report_font(tmp_path / "no-fonts-here")
    assert missing == ReportFont(None)

    content = _text(render_pdf(report, missing))

    # Windows-1252 keeps French; other letters lose their marks (or become ?), never the text.
    assert "Rapport de visio" in content and "Visio terminée par" in content
    assert "Dr Nguyen Thi ?ukasz-Zó?c" in content
    assert "Restez calme ? nous arrivons — ?????? ??????? ?? ??????" in content
    assert "Ordonnance Ærø Gül ? ????.pdf" in content
