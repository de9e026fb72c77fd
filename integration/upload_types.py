"""What an uploaded file really is, from its first bytes, and a name that is safe to show.

A file's type is read from its content (its "magic" bytes), never from its name or from the
type the browser claims: a ``.pdf`` that starts like a Windows program is a program. Only the
types a regulator and a caller exchange are known: photos (JPEG, PNG, WebP, and HEIC/HEIF as
iPhones take them) and PDF. Everything else, programs, archives, HTML, SVG (which carries
scripts), is refused. Nothing here parses a file further than its header.

Names come from the sender's device and end up in pages and in download headers: they are cut
to their last path part, stripped of control and bidirectional characters and of markup
characters, bounded, and given the extension of their real type.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ACCEPTED_TYPES",
    "EXTENSIONS",
    "IMAGE_TYPES",
    "SNIFF_BYTES",
    "clean_name",
    "sniff",
]

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
HEIC = "image/heic"
HEIF = "image/heif"
PDF = "application/pdf"

ACCEPTED_TYPES: frozenset[str] = frozenset({JPEG, PNG, WEBP, HEIC, HEIF, PDF})
"""The types a session's files may have."""
IMAGE_TYPES: frozenset[str] = frozenset({JPEG, PNG, WEBP, HEIC, HEIF})
EXTENSIONS: dict[str, str] = {
    JPEG: ".jpg",
    PNG: ".png",
    WEBP: ".webp",
    HEIC: ".heic",
    HEIF: ".heif",
    PDF: ".pdf",
}
SNIFF_BYTES = 64
"""How many first bytes :func:`sniff` needs."""

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"heif"})
_NAME_MAX = 120
"""Characters kept of a name (before the extension): enough to recognise it."""
_UNSAFE = re.compile(r"[<>\"'`&;:*?|\\/=%$#{}\[\]^~]+")


def sniff(head: bytes) -> str | None:
    """The accepted type whose signature ``head`` (the file's first bytes) starts with; None for
    anything else (unknown, or a known type that is refused)."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return _iso_media(head)


def _iso_media(head: bytes) -> str | None:
    """HEIC/HEIF: an ISO media file whose ``ftyp`` box names an image brand."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    box = int.from_bytes(head[:4], "big")
    end = min(len(head), box) if box >= 16 else 16
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]
    if any(brand in _HEIC_BRANDS for brand in brands):
        return HEIC
    if any(brand in _HEIF_BRANDS for brand in brands):
        return HEIF
    return None


def clean_name(name: str, content_type: str, fallback: str = "document") -> str:
    """A name safe to show and to send back in a download header, ending with the extension of
    ``content_type`` (the file's real type)."""
    name = unicodedata.normalize("NFC", name)
    # Only the last part of a path: no directories, whichever separator the device used.
    name = re.split(r"[\\/]", name)[-1]
    # No control, format (bidirectional overrides, zero width...) or unassigned characters.
    name = "".join(
        " " if char.isspace() else char
        for char in name
        if unicodedata.category(char)[0] != "C" or char.isspace()
    )
    name = _UNSAFE.sub("_", name)
    # The sender's extension goes (the real type's replaces it); a name that is only one goes.
    stem, dot, _extension = name.rpartition(".")
    if not dot:
        stem = name
    stem = re.sub(r"\s+", " ", stem).strip(" ._-")
    if not stem:
        stem = fallback
    return stem[:_NAME_MAX].rstrip(" ._-") + EXTENSIONS.get(content_type, "")
