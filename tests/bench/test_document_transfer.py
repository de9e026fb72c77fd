"""A 10 MB document each way through the real HTTP server, and the memory it costs the service.

The real application (``create_app``, SQLite and PostgreSQL) on a real TCP socket (aiohttp's test
server). The regulator sends a document to the patient (``POST /console/api/sessions/{id}/
documents``), the patient's page downloads it; the patient sends one back (``POST /p/<token>/
documents``), the console downloads it. Bodies are streamed from and to a generator on the client
side, so that what the process holds is the service's own doing. For each transfer: throughput
(MB/s), and the Python heap's peak growth during it (``tracemalloc``) beside the file's size; the
process's resident size before and after is printed too. The service streams files to and from the
storage in 256 KiB chunks: its peak should stay a small fraction of the file's size.

A benchmark: it prints its figures and asserts only that every byte made the round trip.
Environment: ``VISIOREGUL_BENCH_DOCUMENT_MB`` (10).
"""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.web.conftest import app, backend, client, new_database  # noqa: F401
from tests.web.patient import Client, invite

SIZE_MB = int(os.environ.get("VISIOREGUL_BENCH_DOCUMENT_MB", "10"))
SIZE = SIZE_MB * 1_000_000
CHUNK = 64 * 1024

pytestmark = [pytest.mark.timeout(300)]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _body(head: bytes, digest: hashlib._Hash) -> AsyncIterator[bytes]:
    """``SIZE`` bytes starting with ``head``, made as they are sent."""
    sent = 0
    block = bytes(range(256)) * (CHUNK // 256)
    while sent < SIZE:
        chunk = (head + block[len(head) :]) if sent == 0 else block
        chunk = chunk[: SIZE - sent]
        digest.update(chunk)
        sent += len(chunk)
        yield chunk


async def _measure(name: str, transfer: Callable[[], Awaitable[str]]) -> str:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    rss = _rss_mb()
    started = time.perf_counter()
    result = await transfer()
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    growth = (peak - before) / 1_000_000
    print(
        f"\n{name}: {SIZE_MB} MB in {elapsed * 1000:.0f} ms = {SIZE_MB / elapsed:.1f} MB/s; "
        f"heap peak growth {growth:.2f} MB ({growth / SIZE_MB:.1%} of the file); "
        f"RSS {rss:.0f} -> {_rss_mb():.0f} MB"
    )
    return result


async def test_a_large_document_each_way_streams_without_holding_it(
    client: Client,  # noqa: F811
) -> None:
    session_id, token, csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200

    async def download(url: str) -> str:
        digest = hashlib.sha256()
        async with client.get(url) as response:
            assert response.status == 200
            async for chunk in response.content.iter_chunked(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    for way, head, upload_url, download_base in (
        (
            "regulator -> patient",
            b"%PDF-1.7\n",
            f"/console/api/sessions/{session_id}/documents?name={quote('plan.pdf')}",
            f"/p/{token}/documents/",
        ),
        (
            "patient -> regulator",
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
            f"/p/{token}/documents?name=photo.jpg",
            f"/console/api/sessions/{session_id}/documents/",
        ),
    ):
        sent = hashlib.sha256()

        async def upload(
            url: str = upload_url, head: bytes = head, sent: hashlib._Hash = sent
        ) -> str:
            response = await client.post(
                url,
                data=_body(head, sent),
                headers={"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"},
            )
            assert response.status == 201, await response.text()
            return str((await response.json())["id"])

        document_id = await _measure(f"upload {way}", upload)
        url = download_base + document_id

        async def fetch(url: str = url) -> str:
            return await download(url)

        received = await _measure(f"download {way}", fetch)
        assert received == sent.hexdigest(), "every byte made the round trip"
