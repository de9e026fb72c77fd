"""Scripts and styles are sent gzipped to browsers that accept it (the patient's page on a weak
mobile network), whole and unchanged once decoded; ranges and pages are sent as they are."""

from __future__ import annotations

import gzip

from aiohttp import web
from aiohttp.test_utils import TestClient

from visioregul.patient_page.http import STATIC_DIR

Client = TestClient[web.Request, web.Application]


async def test_given_a_browser_taking_gzip_then_scripts_and_styles_come_compressed(
    client: Client,
) -> None:
    for path in ("js/main.js", "patient.css"):
        response = await client.get(
            f"/patient/static/{path}", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        )
        assert response.status == 200
        assert response.headers["Content-Encoding"] == "gzip"
        body = await response.read()
        original = (STATIC_DIR / path).read_bytes()
        assert gzip.decompress(body) == original
        assert len(body) < len(original) / 2


async def test_given_no_gzip_or_a_range_then_the_file_as_it_is(client: Client) -> None:
    original = (STATIC_DIR / "js/main.js").read_bytes()
    plain = await client.get(
        "/patient/static/js/main.js", headers={"Accept-Encoding": "identity"}, auto_decompress=False
    )
    assert "Content-Encoding" not in plain.headers
    assert await plain.read() == original
    ranged = await client.get(
        "/patient/static/js/main.js",
        headers={"Accept-Encoding": "gzip", "Range": "bytes=0-99"},
        auto_decompress=False,
    )
    assert ranged.status == 206
    assert "Content-Encoding" not in ranged.headers
    assert await ranged.read() == original[:100]


async def test_given_a_cached_copy_then_not_modified_without_a_body(client: Client) -> None:
    """A reload revalidates the browser's copy: a bare 304, never a compressed empty body (the
    browser rejects that response)."""
    first = await client.get("/patient/static/js/main.js", headers={"Accept-Encoding": "gzip"})
    await first.read()
    again = await client.get(
        "/patient/static/js/main.js",
        headers={
            "Accept-Encoding": "gzip",
            "If-Modified-Since": first.headers["Last-Modified"],
        },
        auto_decompress=False,
    )
    assert again.status == 304
    assert "Content-Encoding" not in again.headers
    assert await again.read() == b""
