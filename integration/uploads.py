"""Resumable uploads of the patient's photos and files: a cut connection resumes where it stopped.

A phone on one bar of signal loses its connection in the middle of a photo; sending it again
from the first byte may never succeed. So an upload goes in three steps (the patient page's
routes are in :mod:`visioregul.patient_page.documents`):

1. :meth:`ResumableUploads.create` announces the file (its name, kind and size), checked at once
   like any document (session open, per-file and per-session limits, rate): it gets an id;
2. :meth:`ResumableUploads.append` adds bytes from the offset the service has (a request that
   says another offset is refused with that offset); what arrives is kept even when the
   connection breaks in the middle of the body, so that the next try starts there;
3. :meth:`ResumableUploads.status` tells the page, after a failure, how far the service got.

The first bytes are checked as soon as they arrive: a file of no accepted type (for a photo, of
no image type) is refused at once, with nothing kept. Once the last byte is in, the whole file
goes through :meth:`Documents.receive <.documents.Documents.receive>` (its real type, its size,
its record and its event in one transaction) and only then does the regulator see it; the
partial data goes. Partial data is never shown: it expires :data:`EXPIRY` seconds after its last
byte (swept at each new upload), goes with a refused file, and a restart of the service forgets
it (the page, told the upload is unknown, starts again from the first byte).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

from .documents import (
    FROM_PATIENT,
    KINDS,
    PHOTO,
    Document,
    DocumentEmpty,
    Documents,
    DocumentTypeRefused,
    PhotoNotImage,
    TooManyDocuments,
)
from .errors import DomainError
from .sessions.services import Actor
from .storage import FileStorage
from .upload_types import IMAGE_TYPES, SNIFF_BYTES, sniff

__all__ = [
    "EXPIRY",
    "PARTIAL_PREFIX",
    "ResumableUploads",
    "Upload",
    "UploadNotFound",
    "UploadOffsetMismatch",
]

log = logging.getLogger(__name__)

PARTIAL_PREFIX = "uploads"
"""Where partial data is kept in the file storage, apart from every session's files."""
EXPIRY = 30 * 60.0
"""Seconds an unfinished upload is kept after its last byte (a finished one: to answer a page
that lost the reply)."""
MAX_UPLOADS = 1000
"""Uploads in progress at once, all sessions together: more is a flood."""


class UploadNotFound(DomainError):
    """No such upload for this link (unknown, expired, refused, or forgotten by a restart):
    the page starts again from the first byte."""

    error_id = "upload_not_found"


class UploadOffsetMismatch(DomainError):
    """The bytes do not start where the service's copy ends (``offset``): the page sends from
    there."""

    error_id = "upload_offset_mismatch"

    def __init__(self, offset: int) -> None:
        super().__init__(offset=offset)
        self.offset = offset


@dataclass(slots=True)
class Upload:
    """One file on its way from the phone."""

    id: str
    session_id: str
    actor: Actor
    name: str
    kind: str
    size: int
    """The size the page announced: the file is complete when this many bytes arrived."""
    details: dict[str, object] | None
    received: int = 0
    touched: float = field(default_factory=time.monotonic)
    """When bytes last arrived (monotonic seconds), for the expiry."""
    document: Document | None = None
    """The kept document, once complete."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One request at a time writes to the partial data."""

    @property
    def key(self) -> str:
        """The partial data's storage key."""
        return f"{PARTIAL_PREFIX}/{self.id}.part"


class ResumableUploads:
    """The uploads in progress, for :class:`Documents`."""

    def __init__(self, documents: Documents, storage: FileStorage, expiry: float = EXPIRY) -> None:
        """Uploads that end as ``documents``, their partial data in ``storage``."""
        self._documents = documents
        self._storage = storage
        self.expiry = expiry
        """Seconds an upload is kept after its last byte."""
        self._uploads: dict[str, Upload] = {}
        self._swept = False

    async def create(
        self,
        session_id: str,
        actor: Actor,
        *,
        name: str,
        kind: str,
        size: int,
        details: dict[str, object] | None = None,
    ) -> Upload:
        """Announce a file of ``size`` bytes from the patient; refused like a document
        (``SessionClosed``, ``DocumentTooLarge``, ``SessionFilesFull``,
        ``TooManyDocuments``)."""
        if kind not in KINDS or size < 0:
            raise DomainError("invalid_request")
        if size == 0:
            raise DocumentEmpty()
        await self._sweep()
        if len(self._uploads) >= MAX_UPLOADS:
            raise TooManyDocuments(retry_after=60)
        await self._documents.check_open(session_id, FROM_PATIENT, size)
        upload = Upload(
            id=secrets.token_hex(16),
            session_id=session_id,
            actor=actor,
            name=name,
            kind=kind,
            size=size,
            details=details,
        )
        self._uploads[upload.id] = upload
        log.info("session %s: upload %s of %d bytes started", session_id, upload.id, size)
        return upload

    async def status(self, session_id: str, upload_id: str) -> Upload:
        """The upload (how far it got, its document once complete); :class:`UploadNotFound`
        when it is not this session's."""
        upload = self._find(session_id, upload_id)
        if not upload.lock.locked() and upload.document is None:
            # The partial data is the truth: a request cancelled with its connection may have
            # written more than it could count.
            upload.received = await self._storage.size(upload.key)
        return upload

    def _find(self, session_id: str, upload_id: str) -> Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.session_id != session_id:
            raise UploadNotFound()
        return upload

    async def append(
        self, session_id: str, upload_id: str, start: int, chunks: AsyncIterable[bytes]
    ) -> Upload:
        """Add the bytes ``chunks`` yields at ``start``; the upload as it is after them.

        A body that breaks off keeps what arrived (the page resumes from there). Raises
        :class:`UploadNotFound`, :class:`UploadOffsetMismatch` (another request is writing, or
        ``start`` is not the service's offset), :class:`DocumentTypeRefused` /
        :class:`PhotoNotImage` as soon as the first bytes show the wrong type, and what
        :meth:`Documents.receive` raises once the file is complete; a refused upload is gone.
        """
        upload = await self.status(session_id, upload_id)
        if upload.lock.locked():
            raise UploadOffsetMismatch(upload.received)
        async with upload.lock:
            if upload.document is not None:
                return upload
            if start != upload.received:
                raise UploadOffsetMismatch(upload.received)
            try:
                # The storage keeps what it wrote even when this task is cancelled with its
                # connection; the next status() reads how much that was.
                await self._storage.append(upload.key, self._bounded(upload, chunks))
            except DomainError:
                await self._drop(upload)
                raise
            except Exception as error:  # the connection broke: keep what arrived
                log.info("session %s: upload %s cut: %r", session_id, upload.id, error)
            finally:
                upload.touched = time.monotonic()
            upload.received = await self._storage.size(upload.key)
            if upload.received < upload.size:
                return upload
            try:
                upload.document = await self._documents.receive(
                    upload.session_id,
                    upload.actor,
                    direction=FROM_PATIENT,
                    name=upload.name,
                    chunks=self._storage.read(upload.key),
                    kind=upload.kind,
                    details=upload.details,
                )
            except BaseException:
                await self._drop(upload)
                raise
            # Kept as a document: the partial data goes, the record stays a while to answer a
            # page that lost the reply.
            await self._storage.delete(upload.key)
            return upload

    async def _bounded(self, upload: Upload, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """``chunks`` cut at the announced size, the first bytes checked for their type."""
        room = upload.size - upload.received
        head = b""
        checking = upload.received == 0
        async for chunk in chunks:
            if len(chunk) > room:
                chunk = chunk[:room]
            room -= len(chunk)
            if checking:
                head += chunk
                if len(head) < SNIFF_BYTES and room > 0:
                    continue
                _check_type(upload.kind, head)
                checking = False
                chunk = head
            if chunk:
                yield chunk
            if room <= 0:
                break
        if checking and head:
            # The body broke off before the type could be read: keep the bytes, check later.
            yield head

    async def _drop(self, upload: Upload) -> None:
        self._uploads.pop(upload.id, None)
        with contextlib.suppress(Exception):
            await self._storage.delete(upload.key)

    async def _sweep(self) -> None:
        """Forget uploads whose last byte is older than the expiry (finished ones too); at the
        first call, partial data left by an earlier run."""
        if not self._swept:
            self._swept = True
            await self._storage.delete_prefix(PARTIAL_PREFIX)
        deadline = time.monotonic() - self.expiry
        for upload in [item for item in self._uploads.values() if item.touched < deadline]:
            if not upload.lock.locked():
                log.info("session %s: upload %s expired", upload.session_id, upload.id)
                await self._drop(upload)


def _check_type(kind: str, head: bytes) -> None:
    content_type = sniff(head)
    if content_type is None:
        if kind == PHOTO:
            raise PhotoNotImage()
        raise DocumentTypeRefused(accepted="JPEG, PNG, WebP, HEIC, PDF")
    if kind == PHOTO and content_type not in IMAGE_TYPES:
        raise PhotoNotImage()
