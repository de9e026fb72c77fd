"""The report's PDF draws whatever users typed as plain text: characters its fonts lack are
folded or replaced, never dropped silently with what follows, and markup stays text."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from pypdf import PdfReader

from visioregul.integration.report_pdf import render_pdf, safe_text
from visioregul.integration.reports import Report, ReportLine

AT = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def _report(text: str) -> Report:
    return Report(
        language="fr",
        session_id="0" * 32,
        centre="SAMU 974 « Réunion »",
        time_zone="Indian/Reunion",
        state="Terminée",
        opened_at=AT,
        ended_at=None,
        opened_by="Dr Œdipe",
        regulators=("Dr Œdipe",),
        position=None,
        call_id=None,
        caller_number=None,
        invitations=(),
        timeline=(ReportLine(AT, text),),
        documents=(),
        stills=(),
        generated_at=AT,
        labels={"report.title": "Rapport de visio"},
    )


def test_given_characters_out_of_the_fonts_then_folded_or_replaced() -> None:
    assert safe_text("E\u2011mail\u00a0: « ok » œ €") == "E-mail\u00a0: « ok » œ €"
    assert safe_text("Ｂｏｎｊｏｕｒ") == "Bonjour"  # fullwidth letters folded
    assert safe_text("Привет 🚑") == "?????? ?"
    assert safe_text("a\x00b\u200bc\nd") == "abc d"


def test_given_hostile_text_then_the_pdf_shows_it_as_text() -> None:
    hostile = '<script>alert("x")</script> {page} %PDF 🚑 ) Tj ('
    pdf = render_pdf(_report(hostile))
    content = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    # The ambulance is not in the embedded font: a visible replacement mark.
    assert '<script>alert("x")</script> {page} %PDF \ufffd ) Tj (' in content
    assert "SAMU 974 « Réunion »" in content
    assert "Dr Œdipe" in content
