"""A session's report as a PDF, with fpdf2: A4, the centre's times, the stills embedded as they
were taken (JPEG, not re-encoded).

Names, messages and documents come from anyone (« Nguyễn », « Łukasz », Arabic, an emoji), so the
report embeds a Unicode font: DejaVu Sans, from Debian's ``fonts-dejavu-core`` package (a
deployment requirement, see the README), shaped by HarfBuzz (``uharfbuzz``) so that right-to-left
scripts read in their order and with their joined forms. A character the font lacks prints as
``�``, never silently nothing. Without the font files the report still prints, with fpdf2's core
fonts (Windows-1252: French and most Latin names, other characters folded to their nearest form
or ``?``), and the server log says so once. Either way the text stays plain text, drawn, never
interpreted (fpdf2's markup is not enabled).
"""

from __future__ import annotations

import functools
import io
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont
from PIL import Image

from .reports import Report, sequence, when

__all__ = ["FONT_DIR", "ReportFont", "render_pdf", "report_font"]

log = logging.getLogger(__name__)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
"""Where Debian's ``fonts-dejavu-core`` puts DejaVu Sans."""
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
_ENCODING = "windows-1252"
_FOLDS = str.maketrans({"\u2011": "-", "\u2010": "-", "\u202f": "\u00a0", "\u2212": "-"})
_MARGIN = 15.0
_STILL_WIDTH = 86.0
_MISSING = "\ufffd"


@dataclass(frozen=True)
class ReportFont:
    """The font the report is drawn with: DejaVu Sans's files, or none (the core fonts)."""

    files: dict[str, Path] | None
    """The regular, bold and oblique files by fpdf2 style; None: the core fonts."""

    @property
    def family(self) -> str:
        """The family name given to fpdf2."""
        return "helvetica" if self.files is None else "dejavu"


@functools.cache
def report_font(font_dir: Path = FONT_DIR) -> ReportFont:
    """DejaVu Sans from ``font_dir`` when its files are there; the core fonts otherwise (logged
    once per folder)."""
    files = {style: font_dir / name for style, name in _FONT_FILES.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        log.warning(
            "reports: %s missing (Debian package fonts-dejavu-core): PDF reports print "
            "Windows-1252 text only, other characters folded",
            ", ".join(missing),
        )
        return ReportFont(None)
    return ReportFont(files)


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


def unicode_text(text: str, characters: frozenset[int]) -> str:
    """``text`` drawable with a Unicode font of ``characters``: control and private characters
    dropped (bidirectional marks kept: the shaping reads them), the font's missing ones shown
    as ``�``."""
    out: list[str] = []
    for char in text:
        if char in "\n\t":
            out.append(" ")
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co"):
            continue
        if category == "Cf":
            # Joiners and direction marks shape the text; they are never drawn themselves.
            if char in "\u200c\u200d\u200e\u200f":
                out.append(char)
            continue
        if ord(char) in characters:
            out.append(char)
        elif unicodedata.combining(char):
            continue  # a mark the font lacks: the base letter alone reads better than �
        else:
            out.append(_MISSING)
    return "".join(out)


class _Document(FPDF):
    """A4 pages with the report's footer."""

    def __init__(self, report: Report, font: ReportFont) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.core_fonts_encoding = _ENCODING
        self.report = report
        self.typeface = font
        self.characters: frozenset[int] = frozenset()
        """The code points the Unicode font draws (none with the core fonts: they fold)."""
        if font.files is not None:
            for style, path in font.files.items():
                self.add_font(font.family, style, path)
            loaded = self.fonts[font.family]
            assert isinstance(loaded, TTFFont)
            self.characters = frozenset(loaded.cmap)
            self.set_text_shaping(True)
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(self.text_of(report.label("report.title")))
        self.set_creator("VisioRegul")
        self.set_author(self.text_of(report.centre))

    def text_of(self, text: str) -> str:
        """``text`` as this document's font can draw it."""
        if self.typeface.files is None:
            return safe_text(text)
        return unicode_text(text, self.characters)

    def use(self, style: str = "", size: float = 10) -> None:
        """Select the report's font in ``style`` (``""``, ``"B"`` or ``"I"``)."""
        self.set_font(self.typeface.family, style=style, size=size)

    def footer(self) -> None:
        """The centre, the session and the page number on every page."""
        self.set_y(-12)
        self.use(size=8)
        self.set_text_color(90, 90, 90)
        text = self.report.label(
            "report.footer",
            centre=self.report.centre,
            session=self.report.session_id,
            page=self.page_no(),
        )
        self.cell(0, 5, self.text_of(text), align="C")


def _heading(pdf: _Document, text: str) -> None:
    pdf.ln(3)
    pdf.use("B", 13)
    pdf.set_text_color(20, 40, 80)
    pdf.cell(0, 8, pdf.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(180, 190, 205)
    pdf.line(_MARGIN, pdf.get_y(), pdf.w - _MARGIN, pdf.get_y())
    pdf.ln(1.5)
    pdf.set_text_color(0, 0, 0)
    pdf.use(size=10)


def _label_width(pdf: _Document, labels: list[str]) -> float:
    """The facts' label column: 48 mm, or wider when a label needs it (a wider font, a longer
    language), so that no label runs into its value."""
    pdf.use("B", 10)
    return max(48.0, *(pdf.get_string_width(pdf.text_of(label)) + 3 for label in labels))


def _fact(pdf: _Document, label: str, value: str, width: float) -> None:
    pdf.use("B", 10)
    pdf.cell(width, 6, pdf.text_of(label))
    pdf.use(size=10)
    pdf.multi_cell(0, 6, pdf.text_of(value) or "-", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _line(pdf: _Document, prefix: str, text: str) -> None:
    pdf.use("B", 10)
    pdf.cell(20, 5.5, pdf.text_of(prefix))
    pdf.use(size=10)
    pdf.multi_cell(0, 5.5, pdf.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


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


def render_pdf(report: Report, font: ReportFont | None = None) -> bytes:
    """The report's PDF, drawn with ``font`` (by default :func:`report_font`'s)."""
    label = report.label
    pdf = _Document(report, font or report_font())
    pdf.add_page()
    pdf.use("B", 18)
    pdf.cell(0, 10, pdf.text_of(label("report.title")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.use(size=12)
    pdf.cell(0, 7, pdf.text_of(report.centre), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    _heading(pdf, label("report.facts"))
    facts = [
        (label("report.session"), report.session_id),
        (label("report.state"), report.state),
        (label("report.opened_at"), when(report, report.opened_at)),
        (label("report.ended_at"), when(report, report.ended_at)),
        (label("report.opened_by"), report.opened_by),
        (label("report.regulators"), sequence(report.regulators)),
        (label("report.position"), report.position or ""),
        (label("report.call"), report.call_id or ""),
        (label("report.caller"), report.caller_number or ""),
        (label("report.time_zone"), report.time_zone),
    ]
    width = _label_width(pdf, [name for name, _value in facts])
    for name, value in facts:
        _fact(pdf, name, value, width)

    _heading(pdf, label("report.invitations"))
    if not report.invitations:
        pdf.multi_cell(0, 6, pdf.text_of(label("report.none")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
        pdf.multi_cell(0, 6, pdf.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    _heading(pdf, label("report.timeline"))
    for line in report.timeline:
        _line(pdf, when(report, line.at, with_date=False), line.text)

    _heading(pdf, label("report.documents"))
    if not report.documents:
        pdf.multi_cell(0, 6, pdf.text_of(label("report.none")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for document in report.documents:
        text = label(
            "report.document.line",
            at=when(report, document.at),
            direction=document.direction,
            name=document.name,
        )
        pdf.multi_cell(0, 6, pdf.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    if report.stills:
        # Keep the heading with its first row of stills.
        first = _still_height(report.stills[0].jpeg) or 0.0
        if pdf.get_y() + 14 + first + 12 > pdf.h - 20:
            pdf.add_page()
    _heading(pdf, label("report.stills"))
    if not report.stills:
        pdf.multi_cell(0, 6, pdf.text_of(label("report.none")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
        pdf.use(size=8.5)
        pdf.multi_cell(_STILL_WIDTH, 4.5, pdf.text_of(caption))
        row_height = max(row_height, height)
        column = 1 - column
        if column == 0:
            pdf.set_xy(_MARGIN, row_top + row_height + 3)
    if column == 1:
        pdf.set_xy(_MARGIN, row_top + row_height + 3)

    pdf.ln(4)
    pdf.use("I", 9)
    at = when(report, report.generated_at)
    generated = label("report.generated", at=at, zone=report.time_zone)
    pdf.multi_cell(0, 5, pdf.text_of(generated), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
