"""Types read from content and names made safe: what is accepted, what is refused."""

from __future__ import annotations

import pytest

from visioregul.integration.upload_types import clean_name, sniff


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + bytes(32)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe1\x00\x18Exif", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.4\n", "application/pdf"),
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"miaf"), "image/heif"),
        # Refused: programs, archives, markup, video, audio, nothing.
        (b"MZ\x90\x00", None),
        (b"\x7fELF\x02\x01", None),
        (b"PK\x03\x04", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script/>", None),
        (b"<?xml version='1.0'?><svg/>", None),
        (b"<!DOCTYPE html><html>", None),
        (_ftyp(b"isom", b"mp41"), None),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b" %PDF-1.4", None),
        (b"", None),
    ],
)
def test_given_first_bytes_then_only_accepted_types_are_recognised(
    head: bytes, expected: str | None
) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("photo.JPG", "image/jpeg", "photo.jpg"),
        ("IMG_0001.HEIC", "image/heic", "IMG_0001.heic"),
        ("/storage/emulated/0/DCIM/plaie.jpeg", "image/jpeg", "plaie.jpg"),
        ("C:\\Users\\x\\..\\ordonnance.pdf", "application/pdf", "ordonnance.pdf"),
        ("<script>alert(1)</script>.png", "image/png", "script.png"),
        ("evil\u202eFDP.exe", "application/pdf", "evilFDP.pdf"),
        ("zero\u200bwidth\u2066.pdf", "application/pdf", "zerowidth.pdf"),
        ("line\nbreak\ttab.pdf", "application/pdf", "line break tab.pdf"),
        ("...", "image/png", "document.png"),
        ("", "image/jpeg", "document.jpg"),
        ("sans extension", "application/pdf", "sans extension.pdf"),
        ("e\u0301té.pdf", "application/pdf", "\u00e9té.pdf"),
    ],
)
def test_given_a_sender_name_then_it_is_made_safe_with_its_real_extension(
    name: str, content_type: str, expected: str
) -> None:
    assert clean_name(name, content_type) == expected


def test_given_a_very_long_name_then_it_is_cut() -> None:
    assert clean_name("é" * 500 + ".pdf", "application/pdf") == "é" * 120 + ".pdf"
