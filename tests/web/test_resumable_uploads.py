"""Resumable uploads through the real application: a connection cut in the middle of a photo (a
real TCP connection, dropped by a small proxy after N bytes) resumes from the service's offset
and the kept file is whole and identical; a photo that is no image is refused in French at its
first bytes; nothing half-stored is ever listed, and partial data expires."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.store.conftest import NewDatabase
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.settings import DatabaseSettings, DocumentSettings

from .conftest import make_settings
from .helpers import events_of, has_event, wait_detail
from .patient import Client, invite

pytestmark = [pytest.mark.timeout(60)]

N = "\u00a0"
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(300_000) + b"\xff\xd9"
CUT_AFTER = 100_000
"""Body bytes the proxy lets through before it drops the connection."""


@pytest.fixture
async def app(tmp_path: Path, new_database: NewDatabase) -> web.Application:
    """The service with a 1 MB file limit."""
    settings = make_settings(tmp_path)
    settings.database = DatabaseSettings(url=await new_database())
    settings.documents = DocumentSettings(max_file_mb=1, max_session_mb=2.5)
    return create_app(settings)


class CuttingProxy:
    """A TCP proxy in front of the service that drops its first connection once it has passed
    ``cut_after`` bytes (counted from the end of its first request's headers) and
    ``before_cut`` returned; later connections pass untouched."""

    def __init__(
        self, port: int, cut_after: int, before_cut: Callable[[], Awaitable[None]]
    ) -> None:
        self.port = port
        self.cut_after = cut_after
        self.before_cut = before_cut
        self.cuts = 0
        self.server: asyncio.Server | None = None
        self.listening = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on a free local port; return it."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.listening = int(self.server.sockets[0].getsockname()[1])
        return self.listening

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        assert self.server is not None
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.port)
        cutting = self.cuts == 0
        back = asyncio.create_task(self._pipe(upstream_reader, writer))
        try:
            seen = b""
            body = -1
            while data := await reader.read(16_384):
                if cutting:
                    if body < 0:
                        seen += data
                        end = seen.find(b"\r\n\r\n")
                        if end >= 0:
                            body = len(seen) - end - 4
                    else:
                        body += len(data)
                    if body >= self.cut_after:
                        keep = len(data) - (body - self.cut_after)
                        upstream_writer.write(data[:keep])
                        await upstream_writer.drain()
                        await self.before_cut()
                        self.cuts += 1
                        break
                upstream_writer.write(data)
                await upstream_writer.drain()
        finally:
            back.cancel()
            # The phone's side is gone at once; the service gets what passed, then the end of
            # the connection (a reset would also throw away what it had not read yet).
            writer.transport.abort()
            with contextlib.suppress(Exception):
                upstream_writer.close()
            self.tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(16_384):
                writer.write(data)
                await writer.drain()


@pytest.fixture
async def proxy(client: Client) -> AsyncIterator[CuttingProxy]:
    """The cutting proxy in front of the test's service; it cuts once the service has written
    some of the body (a phone's link breaks while the body streams, not before)."""
    port = client.server.port
    assert port is not None
    partial = client.app[appkeys.SETTINGS].service.data_dir / "files" / "uploads"

    async def some_arrived() -> None:
        for _ in range(200):
            if partial.exists() and any(path.stat().st_size > 0 for path in partial.iterdir()):
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the service wrote nothing of the body")

    cutting = CuttingProxy(port, CUT_AFTER, some_arrived)
    await cutting.start()
    yield cutting
    await cutting.close()


def _cookie(client: Client, token: str) -> str:
    """The link's key cookie, as the patient's browser sends it."""
    cookies = client.session.cookie_jar.filter_cookies(client.make_url(f"/p/{token}"))
    return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())


async def _patch(
    session: aiohttp.ClientSession, url: str, data: bytes, start: int
) -> tuple[int, dict[str, Any]]:
    end = start + len(data) - 1
    async with session.patch(
        url,
        data=data,
        headers={
            "Content-Range": f"bytes {start}-{end}/{len(PHOTO)}",
            "Content-Type": "application/octet-stream",
        },
    ) as response:
        return response.status, await response.json()


async def test_given_a_photo_upload_cut_in_the_middle_then_it_resumes_and_arrives_identical(
    client: Client, proxy: CuttingProxy
) -> None:
    session_id, token, _csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200  # the browser's key
    headers = {"Cookie": _cookie(client, token)}
    async with aiohttp.ClientSession(
        f"http://127.0.0.1:{proxy.listening}", headers=headers
    ) as phone:
        async with phone.post(
            f"/p/{token}/uploads?name=plaie.jpg&kind=photo&size={len(PHOTO)}&mode=photo_mode"
        ) as created:
            assert created.status == 201, await created.text()
            upload = await created.json()
        url = f"/p/{token}/uploads/{upload['id']}"
        assert upload["offset"] == 0

        with pytest.raises(aiohttp.ClientError):
            await _patch(phone, url, PHOTO, 0)
        assert proxy.cuts == 1

        # The service kept what arrived before the cut: the page asks how far it got.
        offset = 0
        for _ in range(100):
            async with phone.get(url) as asked:
                assert asked.status == 200
                offset = (await asked.json())["offset"]
            if offset > 0:
                break
            await asyncio.sleep(0.05)
        assert 0 < offset <= CUT_AFTER
        listed = await (await client.get(f"/p/{token}/documents")).json()
        assert listed["documents"] == [], "nothing half-stored is shown"

        # Sending from elsewhere than the service's offset is refused with the offset.
        status, body = await _patch(phone, url, PHOTO[:10], 0)
        assert status == 409
        assert body["details"]["offset"] == offset

        status, body = await _patch(phone, url, PHOTO[offset:], offset)

    assert status == 201, body
    assert body["offset"] == len(PHOTO)
    document = body["document"]
    assert (document["kind"], document["content_type"], document["size"]) == (
        "photo",
        "image/jpeg",
        len(PHOTO),
    )
    downloaded = await client.get(document["url"])
    assert await downloaded.read() == PHOTO, "the file is whole and identical"
    detail = await wait_detail(client, session_id, has_event("photo.taken"), "photo.taken")
    (event,) = events_of(detail, "photo.taken")
    assert event["details"]["document_id"] == document["id"]
    assert event["details"]["photo_mode"] is True, "sent because video could not pass"
    partial = client.app[appkeys.SETTINGS].service.data_dir / "files" / "uploads"
    assert not partial.exists() or not any(partial.iterdir()), "the partial data is gone"
    # A page that lost the reply asks again: the upload says it is done.
    again = await (await client.get(f"/p/{token}/uploads/{upload['id']}")).json()
    assert again["document"]["id"] == document["id"]


async def test_given_a_photo_that_is_not_an_image_then_refused_in_french_at_its_first_bytes(
    client: Client,
) -> None:
    _session_id, token, _csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    pdf = b"%PDF-1.7\n" + bytes(5000)
    created = await client.post(f"/p/{token}/uploads?name=photo.jpg&kind=photo&size={len(pdf)}")
    upload = await created.json()
    url = f"/p/{token}/uploads/{upload['id']}"

    refused = await client.patch(
        url, data=pdf[:1000], headers={"Content-Range": f"bytes 0-999/{len(pdf)}"}
    )

    assert refused.status == 415
    body = await refused.json()
    assert body["error_id"] == "photo_not_image"
    assert body["message"] == (
        f"Ce fichier n'est pas une photo{N}: seules les images (JPEG, PNG, WebP, HEIC) sont "
        "acceptées comme photos. Rien n'a été enregistré."
    )
    assert (await client.get(url)).status == 404, "the refused upload is gone"
    assert (await (await client.get(f"/p/{token}/documents")).json())["documents"] == []
    partial = client.app[appkeys.SETTINGS].service.data_dir / "files" / "uploads"
    assert not partial.exists() or not any(partial.iterdir()), "nothing half-stored is kept"
    # The same bytes as an ordinary document (a PDF) are welcome.
    created = await client.post(f"/p/{token}/uploads?name=fiche.pdf&size={len(pdf)}")
    url = f"/p/{token}/uploads/{(await created.json())['id']}"
    kept = await client.patch(url, data=pdf, headers={"Content-Range": f"bytes 0-4999/{len(pdf)}"})
    assert kept.status == 201, await kept.text()


async def test_given_bad_upload_requests_then_clear_refusals(client: Client) -> None:
    _session_id, token, _csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200

    too_large = await client.post(f"/p/{token}/uploads?name=a.jpg&size=2000000")
    no_size = await client.post(f"/p/{token}/uploads?name=a.jpg")
    bad_mode = await client.post(f"/p/{token}/uploads?name=a.jpg&size=10&mode=party")
    unknown = await client.get(f"/p/{token}/uploads/{'0' * 32}")
    created = await (await client.post(f"/p/{token}/uploads?name=a.jpg&size=10")).json()
    url = f"/p/{token}/uploads/{created['id']}"
    no_range = await client.patch(url, data=b"0123456789")
    wrong_total = await client.patch(url, data=b"0", headers={"Content-Range": "bytes 0-0/11"})
    _other_session, other_token, _csrf = await invite(client)
    assert (await client.get(f"/p/{other_token}")).status == 200
    foreign = await client.get(f"/p/{other_token}/uploads/{created['id']}")

    assert too_large.status == 413
    assert (await too_large.json())["error_id"] == "document_too_large"
    assert no_size.status == 400
    assert bad_mode.status == 400
    assert unknown.status == 404
    assert (await unknown.json())["error_id"] == "upload_not_found"
    assert no_range.status == 400
    assert wrong_total.status == 400
    assert foreign.status == 404, "another session's link does not reach this upload"


async def test_given_an_upload_left_unfinished_then_its_partial_data_expires(
    client: Client,
) -> None:
    _session_id, token, _csrf = await invite(client)
    assert (await client.get(f"/p/{token}")).status == 200
    uploads = client.app[appkeys.UPLOADS]
    created = await (
        await client.post(f"/p/{token}/uploads?name=a.jpg&kind=photo&size={len(PHOTO)}")
    ).json()
    url = f"/p/{token}/uploads/{created['id']}"
    half = await client.patch(
        url, data=PHOTO[:1000], headers={"Content-Range": f"bytes 0-999/{len(PHOTO)}"}
    )
    assert (await half.json())["offset"] == 1000
    partial = client.app[appkeys.SETTINGS].service.data_dir / "files" / "uploads"
    assert any(partial.iterdir())

    uploads.expiry = 0.0  # its last byte is now older than the expiry
    await client.post(f"/p/{token}/uploads?name=b.jpg&kind=photo&size=10")  # sweeps

    assert (await client.get(url)).status == 404
    assert not any(path.name.startswith(created["id"]) for path in partial.iterdir())
