"""A session's report as a PDF, with fpdf2: A4, the centre's times, the stills embedded as they
were taken (JPEG, not re-encoded).

fpdf2's core fonts need no font file on the machine; they cover Windows-1252, which holds French
(« », œ, the no-break space). Any other character a user typed is folded to its nearest form, or
``?``: the text stays plain text, drawn, never interpreted (fpdf2's markup is not enabled).
"""

from __future__ import annotations

import io
import unicodedata

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

from .reports import Report, sequence, when

__all__ = ["render_pdf"]

_ENCODING = "windows-1252"
_FOLDS = str.maketrans({"\u2011": "-", "\u2010": "-", "\u202f": "\u00a0", "\u2212": "-"})
_MARGIN = 15.0
_STILL_WIDTH = 86.0


def safe_text(text: str) -> str:
    """``text`` drawable with the core fonts: characters out of Windows-1252 folded or ``?``,
    control characters dropped."""
    text = text.translate(_FOLDS)
    out: list[str] = []
    for char in text:
        if char in "\n\t":
            out.append(" ")
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co"):
            continue
        try:
            char.encode(_ENCODING)
            out.append(char)
        except UnicodeEncodeError:
            folded = unicodedata.normalize("NFKD", char).encode(_ENCODING, "ignore")
            out.append(folded.decode(_ENCODING) or "?")
    return "".join(out)


class _Document(FPDF):
    """A4 pages with the report's footer."""

    def __init__(self, report: Report) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.core_fonts_encoding = _ENCODING
        self.report = report
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(safe_text(report.label("report.title")))
        self.set_creator("VisioRegul")
        self.set_author(safe_text(report.centre))

    def footer(self) -> None:
        """The centre, the session and the page number on every page."""
        self.set_y(-12)
        self.set_font("helvetica", size=8)
        self.set_text_color(90, 90, 90)
        text = self.report.label(
            "report.footer",
            centre=self.report.centre,
            session=self.report.session_id,
            page=self.page_no(),
        )
        self.cell(0, 5, safe_text(text), align="C")


def _heading(pdf: _Document, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("helvetica", style="B", size=13)
    pdf.set_text_color(20, 40, 80)
    pdf.cell(0, 8, safe_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(180, 190, 205)
    pdf.line(_MARGIN, pdf.get_y(), pdf.w - _MARGIN, pdf.get_y())
    pdf.ln(1.5)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("helvetica", size=10)


def _fact(pdf: _Document, label: str, value: str) -> None:
    pdf.set_font("helvetica", style="B", size=10)
    pdf.cell(48, 6, safe_text(label))
    pdf.set_font("helvetica", size=10)
    pdf.multi_cell(0, 6, safe_text(value) or "-", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _line(pdf: _Document, prefix: str, text: str) -> None:
    pdf.set_font("helvetica", style="B", size=10)
    pdf.cell(20, 5.5, safe_text(prefix))
    pdf.set_font("helvetica", size=10)
    pdf.multi_cell(0, 5.5, safe_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _still_height(jpeg: bytes) -> float | None:
    """The height a still takes at :data:`_STILL_WIDTH` (its header read, not its pixels);
    None when its bytes are no readable image (its caption is printed all the same)."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            width, height = image.size
            image.verify()
    except (OSError, ValueError, SyntaxError):
        return None
    return _STILL_WIDTH * height / max(width, 1)


def render_pdf(report: Report) -> bytes:
    """The report's PDF."""
    label = report.label
    pdf = _Document(report)
    pdf.add_page()
    pdf.set_font("helvetica", style="B", size=18)
    pdf.cell(0, 10, safe_text(label("report.title")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 7, safe_text(report.centre), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    _heading(pdf, label("report.facts"))
    _fact(pdf, label("report.session"), report.session_id)
    _fact(pdf, label("report.state"), report.state)
    _fact(pdf, label("report.opened_at"), when(report, report.opened_at))
    _fact(pdf, label("report.ended_at"), when(report, report.ended_at))
    _fact(pdf, label("report.opened_by"), report.opened_by)
    _fact(pdf, label("report.regulators"), sequence(report.regulators))
    _fact(pdf, label("report.position"), report.position or "")
    _fact(pdf, label("report.call"), report.call_id or "")
    _fact(pdf, label("report.caller"), report.caller_number or "")
    _fact(pdf, label("report.time_zone"), report.time_zone)

    _heading(pdf, label("report.invitations"))
    if not report.invitations:
        pdf.multi_cell(0, 6, safe_text(label("report.none")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for invitation in report.invitations:
        text = label(
            "report.invitation.line",
            role=invitation.role,
            channel=invitation.channel,
            destination=invitation.destination,
            sent=when(report, invitation.sent_at),
            status=invitation.status,
        )
        if invitation.opened_at is not None:
            text += " " + label("report.invitation.opened", at=when(report, invitation.opened_at))
        pdf.multi_cell(0, 6, safe_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    _heading(pdf, label("report.timeline"))
    for line in report.timeline:
        _line(pdf, when(report, line.at, with_date=False), line.text)

    _heading(pdf, label("report.documents"))
    if not report.documents:
        pdf.multi_cell(0, 6, safe_text(label("report.none")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for document in report.documents:
        text = label(
            "report.document.line",
            at=when(report, document.at),
            direction=document.direction,
            name=document.name,
        )
        pdf.multi_cell(0, 6, safe_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    if report.stills:
        # Keep the heading with its first row of stills.
        first = _still_height(report.stills[0].jpeg) or 0.0
        if pdf.get_y() + 14 + first + 12 > pdf.h - 20:
            pdf.add_page()
    _heading(pdf, label("report.stills"))
    if not report.stills:
        pdf.multi_cell(0, 6, safe_text(label("report.none")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    column = 0
    row_top = pdf.get_y()
    row_height = 0.0
    for still in report.stills:
        measured = _still_height(still.jpeg)
        rendered = measured if measured is not None else 0.0
        height = rendered + 12
        if column == 0:
            if row_top + height > pdf.h - 20:
                pdf.add_page()
            row_top = pdf.get_y()
            row_height = 0.0
        x = _MARGIN + column * (_STILL_WIDTH + 8)
        at = when(report, still.at)
        caption = label("report.still.caption", number=still.number, at=at, actor=still.taken_by)
        if measured is None:
            caption += " " + label("report.still.unreadable")
        else:
            pdf.image(io.BytesIO(still.jpeg), x=x, y=row_top, w=_STILL_WIDTH)
        pdf.set_xy(x, row_top + rendered + 1)
        pdf.set_font("helvetica", size=8.5)
        pdf.multi_cell(_STILL_WIDTH, 4.5, safe_text(caption))
        row_height = max(row_height, height)
        column = 1 - column
        if column == 0:
            pdf.set_xy(_MARGIN, row_top + row_height + 3)
    if column == 1:
        pdf.set_xy(_MARGIN, row_top + row_height + 3)

    pdf.ln(4)
    pdf.set_font("helvetica", style="I", size=9)
    at = when(report, report.generated_at)
    generated = label("report.generated", at=at, zone=report.time_zone)
    pdf.multi_cell(0, 5, safe_text(generated), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
