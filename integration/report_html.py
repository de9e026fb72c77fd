"""A session's report as a printable HTML page (its own print style sheet, no inline script or
style: the service's Content-Security-Policy holds). Every text is escaped: names, messages and
documents' names typed by users are shown, never interpreted."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from .reports import Report, sequence, when

__all__ = ["render_html"]


def _row(label: str, value: str) -> str:
    return f'<tr><th scope="row">{escape(label)}</th><td>{escape(value) or "—"}</td></tr>'


def _section(name: str, title: str, body: str) -> str:
    return (
        f'<section aria-labelledby="report-{name}">'
        f'<h2 id="report-{name}">{escape(title)}</h2>\n{body}\n</section>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f'<th scope="col">{escape(header)}</th>' for header in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell) or '—'}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return (
        f'<table class="report-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def render_html(report: Report, *, pdf_url: str, back_url: str) -> str:
    """The page: ``pdf_url`` downloads the PDF, ``back_url`` goes back to the session."""
    label = report.label
    none = f"<p>{escape(label('report.none'))}</p>"
    facts = "".join(
        _row(label(key), value)
        for key, value in (
            ("report.centre", report.centre),
            ("report.session", report.session_id),
            ("report.state", report.state),
            ("report.opened_at", when(report, report.opened_at)),
            ("report.ended_at", when(report, report.ended_at)),
            ("report.opened_by", report.opened_by),
            ("report.regulators", sequence(report.regulators)),
            ("report.position", report.position or ""),
            ("report.call", report.call_id or ""),
            ("report.caller", report.caller_number or ""),
            ("report.time_zone", report.time_zone),
        )
    )
    invitations = (
        _table(
            [
                label(f"report.col.{name}")
                for name in ("role", "channel", "destination", "sent", "delivery", "opened")
            ],
            [
                [
                    invitation.role,
                    invitation.channel,
                    invitation.destination,
                    when(report, invitation.sent_at),
                    invitation.status,
                    when(report, invitation.opened_at),
                ]
                for invitation in report.invitations
            ],
        )
        if report.invitations
        else none
    )
    timeline = "".join(
        f'<li><time datetime="{escape(line.at.isoformat())}">'
        f"{escape(when(report, line.at, with_date=False))}</time> "
        f"<span>{escape(line.text)}</span></li>"
        for line in report.timeline
    )
    documents = "".join(
        '<li class="report-name">'
        + escape(
            label(
                "report.document.line",
                at=when(report, document.at),
                direction=document.direction,
                name=document.name,
            )
        )
        + "</li>"
        for document in report.documents
    )
    stills = "".join(
        '<figure class="report-still">'
        f'<img src="data:image/jpeg;base64,{base64.b64encode(still.jpeg).decode()}" '
        f'alt="{escape(label("report.still.alt", number=still.number))}">'
        "<figcaption>"
        + escape(
            label(
                "report.still.caption",
                number=still.number,
                at=when(report, still.at),
                actor=still.taken_by,
            )
        )
        + "</figcaption></figure>"
        for still in report.stills
    )
    generated = label(
        "report.generated", at=when(report, report.generated_at), zone=report.time_zone
    )
    title = f"{label('report.title')} — {when(report, report.opened_at)}"
    sections = [
        _section("facts", label("report.facts"), f'<table class="report-facts">{facts}</table>'),
        _section("invitations", label("report.invitations"), invitations),
        _section(
            "timeline", label("report.timeline"), f'<ol class="report-timeline">{timeline}</ol>'
        ),
        _section(
            "documents",
            label("report.documents"),
            f'<ul class="report-documents">{documents}</ul>' if documents else none,
        ),
        _section(
            "stills",
            label("report.stills"),
            f'<div class="report-stills">{stills}</div>' if stills else none,
        ),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{escape(report.language)}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="same-origin">',
            f"<title>{escape(title)}</title>",
            '<link rel="icon" href="/console/static/icon.svg" type="image/svg+xml">',
            '<link rel="stylesheet" href="/console/static/report.css">',
            '<script type="module" src="/console/static/js/report-page.js"></script>',
            "</head>",
            '<body class="report">',
            f'<nav class="report-actions" aria-label="{escape(label("report.actions"))}">',
            f'<a class="report-button" href="{escape(back_url)}">'
            f"{escape(label('report.back'))}</a>",
            '<button type="button" class="report-button report-button-primary" '
            f'id="report-print">{escape(label("report.print"))}</button>',
            f'<a class="report-button" href="{escape(pdf_url)}" id="report-pdf" download>'
            f"{escape(label('report.pdf'))}</a>",
            "</nav>",
            '<main class="report-sheet">',
            '<header class="report-header">',
            f"<h1>{escape(label('report.title'))}</h1>",
            f'<p class="report-centre">{escape(report.centre)}</p>',
            "</header>",
            *sections,
            f'<footer class="report-footer"><p>{escape(generated)}</p></footer>',
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
