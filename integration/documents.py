"""Documents and photos exchanged in a session, both ways.

The regulator sends the patient a document (an image, a PDF: a diagram, a first-aid sheet); the
patient sends photos or files from the phone, by themselves or when the regulator asks for a
full-resolution photo ("Photo HD"). Each file is streamed to the file storage as it arrives,
never held whole in memory; its type is read from its first bytes (:mod:`.upload_types`), its
name cleaned, its size bounded (per file and per session, ``[documents]`` settings). Its record
(``session_files``, kind ``document`` or ``photo``, with its direction, name and sender) and the
session's event (``document.sent`` to the patient, ``document.received`` or ``photo.taken``
from them) are written in one transaction; a refused or broken upload leaves nothing behind.
Files go with their session at the retention purge (the session's storage prefix).

The pages hear of each new file through :meth:`Documents.listen` (the patient page's socket);
the consoles through the session's log.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from sqlalchemy import func, select

from .errors import DomainError
from .ratelimit import RateLimiter, RateLimitExceeded
from .sessions.errors import SessionClosed
from .sessions.housekeeping import session_files_prefix
from .sessions.models import SessionFile
from .sessions.services import Actor, SessionService
from .sessions.state import FINAL_STATES
from .settings import DocumentSettings
from .storage import FileNotStored, FileStorage
from .store.models import utcnow
from .upload_types import EXTENSIONS, IMAGE_TYPES, SNIFF_BYTES, clean_name, sniff

__all__ = [
    "DOCUMENT",
    "FROM_PATIENT",
    "PHOTO",
    "TO_PATIENT",
    "Document",
    "DocumentEmpty",
    "DocumentLinkRefused",
    "DocumentNotFound",
    "DocumentTooLarge",
    "DocumentTypeRefused",
    "Documents",
    "PhotoNotImage",
    "SessionFilesFull",
    "TooManyDocuments",
]

log = logging.getLogger(__name__)

DOCUMENT = "document"
"""The ``kind`` of a file sent by either side."""
PHOTO = "photo"
"""The ``kind`` of a full-resolution photo the regulator asked the phone for."""
TO_PATIENT: Final = "to_patient"
FROM_PATIENT: Final = "from_patient"
Direction = Literal["to_patient", "from_patient"]
KINDS = (DOCUMENT, PHOTO)
MEGABYTE = 1_000_000


class DocumentTooLarge(DomainError):
    """The file is larger than the limit (``limit_mb``)."""

    error_id = "document_too_large"


class SessionFilesFull(DomainError):
    """The session's files together would pass their limit (``limit_mb``)."""

    error_id = "session_files_full"


class DocumentTypeRefused(DomainError):
    """The file's content is none of the accepted types (whatever its name says)."""

    error_id = "document_type_refused"


class PhotoNotImage(DomainError):
    """A photo whose content is no image (whatever its name says): a photo must be one."""

    error_id = "photo_not_image"


class DocumentEmpty(DomainError):
    """The file is empty."""

    error_id = "document_empty"


class DocumentNotFound(DomainError):
    """No such document in this session (or not one this reader may see, or its file is
    gone)."""

    error_id = "document_not_found"


class DocumentLinkRefused(DomainError):
    """The patient's link is not (or no longer) valid for this browser: unknown, expired, the
    session ended... (one refusal for every reason: no oracle)."""

    error_id = "document_link_refused"


class TooManyDocuments(DomainError):
    """Files sent too fast in one session; ``retry_after`` in seconds."""

    error_id = "too_many_documents"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Document:
    """A document or photo as the edges show it."""

    id: str
    session_id: str
    kind: str
    """``document`` or ``photo`` (asked by the regulator)."""
    direction: str
    """``to_patient`` or ``from_patient``."""
    name: str
    """The cleaned name, with its real type's extension."""
    content_type: str
    size: int
    sent_at: datetime
    sent_by: str


Listener = Callable[[Document], None]


class Documents:
    """Receives, lists and reads back the documents and photos of sessions."""

    def __init__(
        self, service: SessionService, storage: FileStorage, settings: DocumentSettings
    ) -> None:
        """Documents of ``service``'s sessions, kept in ``storage``, bounded by ``settings``."""
        self._service = service
        self._storage = storage
        self.max_file = int(settings.max_file_mb * MEGABYTE)
        self.max_session = int(settings.max_session_mb * MEGABYTE)
        self._limiter = RateLimiter(settings.per_minute, 60.0)
        self._listeners: dict[str, set[Listener]] = {}

    def listen(self, session_id: str, listener: Listener) -> Callable[[], None]:
        """Hear of each file the session receives (either way); returns the unlisten."""
        self._listeners.setdefault(session_id, set()).add(listener)

        def unlisten() -> None:
            listeners = self._listeners.get(session_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[session_id]

        return unlisten

    async def check_open(self, session_id: str, direction: Direction, size: int | None) -> None:
        """Refuse an upload before reading it: ``SessionNotFound``, ``SessionClosed``,
        :class:`TooManyDocuments`, or :class:`DocumentTooLarge` (:class:`SessionFilesFull`) when
        its announced ``size`` is already too large for a file (for what the session has left)."""
        detail = await self._service.get(session_id)
        if detail.session.state in FINAL_STATES:
            raise SessionClosed(state=detail.session.state)
        if size is not None and size > self.max_file:
            raise DocumentTooLarge(limit_mb=self._megabytes(self.max_file))
        if size is not None and size > self.max_session - await self._session_total(session_id):
            raise SessionFilesFull(limit_mb=self._megabytes(self.max_session))
        try:
            self._limiter.hit(f"{session_id}\x00{direction}")
        except RateLimitExceeded as exceeded:
            raise TooManyDocuments(exceeded.retry_after) from None

    async def receive(
        self,
        session_id: str,
        actor: Actor,
        *,
        direction: Direction,
        name: str,
        chunks: AsyncIterable[bytes],
        kind: str = DOCUMENT,
        details: dict[str, object] | None = None,
    ) -> Document:
        """Keep the file ``chunks`` yields as the session's, and log it.

        Call :meth:`check_open` first. Raises :class:`DocumentTooLarge`,
        :class:`SessionFilesFull`, :class:`DocumentTypeRefused`, :class:`DocumentEmpty` or
        ``SessionClosed``; whatever it raises, nothing is kept.
        """
        if kind not in KINDS:
            raise DomainError("invalid_request")
        room = self.max_session - await self._session_total(session_id)
        if room <= 0:
            raise SessionFilesFull(limit_mb=self._megabytes(self.max_session))
        limit = min(self.max_file, room)
        document_id = secrets.token_hex(16)
        prefix = f"{session_files_prefix(session_id)}/documents/{document_id}"
        sniffed: list[str] = []
        stored_as = f"{prefix}.bin"
        try:
            size = await self._storage.write(
                stored_as, self._checked(chunks, limit, room < self.max_file, sniffed)
            )
            if size == 0:
                raise DocumentEmpty()
            content_type = sniffed[0]
            if kind == PHOTO and content_type not in IMAGE_TYPES:
                raise PhotoNotImage()
            clean = clean_name(name, content_type, fallback="photo" if kind == PHOTO else DOCUMENT)
            row = SessionFile(
                id=document_id,
                session_id=session_id,
                kind=kind,
                direction=direction,
                name=clean,
                taken_at=utcnow(),
                taken_by=actor.name,
                content_type=content_type,
                size=size,
                storage_key=stored_as,
            )
            event = (
                "document.sent"
                if direction == TO_PATIENT
                else "photo.taken"
                if kind == PHOTO
                else "document.received"
            )
            await self._service.record_with_rows(
                session_id,
                actor,
                event,
                {
                    "document_id": document_id,
                    "name": clean,
                    "size": size,
                    "content_type": content_type,
                    "direction": direction,
                    "kind": kind,
                }
                | (details or {}),
                [row],
            )
        except BaseException:
            # Refused, broken or not recorded: keep no file nobody can reach.
            await self._storage.delete(stored_as)
            raise
        document = _document(row)
        log.info(
            "session %s: %s %s (%d bytes, %s) %s by %s",
            session_id,
            kind,
            document_id,
            size,
            content_type,
            direction,
            actor.name,
        )
        for listener in list(self._listeners.get(session_id, ())):
            with contextlib.suppress(Exception):  # one page's failure is not the others'
                listener(document)
        return document

    async def _checked(
        self, chunks: AsyncIterable[bytes], limit: int, session_bound: bool, sniffed: list[str]
    ) -> AsyncIterator[bytes]:
        """``chunks`` as they come, refused as soon as they pass ``limit`` or their first bytes
        are no accepted type (the type found is appended to ``sniffed``)."""
        size = 0
        head = b""
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                if session_bound:
                    raise SessionFilesFull(limit_mb=self._megabytes(self.max_session))
                raise DocumentTooLarge(limit_mb=self._megabytes(self.max_file))
            if not sniffed:
                head += chunk
                if len(head) < SNIFF_BYTES:
                    continue
                self._sniff(head, sniffed)
                chunk, head = head, b""
            yield chunk
        if not sniffed and head:
            self._sniff(head, sniffed)
            yield head

    @staticmethod
    def _sniff(head: bytes, sniffed: list[str]) -> None:
        content_type = sniff(head)
        if content_type is None:
            raise DocumentTypeRefused(accepted="JPEG, PNG, WebP, HEIC, PDF")
        sniffed.append(content_type)

    async def list(self, session_id: str, direction: str | None = None) -> list[Document]:
        """The session's documents and photos (of one ``direction`` if given), newest first."""
        query = select(SessionFile).where(
            SessionFile.session_id == session_id, SessionFile.kind.in_(KINDS)
        )
        if direction is not None:
            query = query.where(SessionFile.direction == direction)
        async with self._service.db() as db:
            rows = list(
                await db.scalars(query.order_by(SessionFile.taken_at.desc(), SessionFile.id))
            )
        return [_document(row) for row in rows]

    async def find(self, session_id: str, document_id: str) -> Document:
        """One document of the session; :class:`DocumentNotFound` otherwise."""
        for document in await self.list(session_id):
            if document.id == document_id:
                return document
        raise DocumentNotFound()

    async def read(
        self, session_id: str, document_id: str
    ) -> tuple[Document, AsyncIterator[bytes]]:
        """A document of the session and its bytes, chunk by chunk; :class:`DocumentNotFound`
        otherwise (its file gone too)."""
        document = await self.find(session_id, document_id)
        async with self._service.db() as db:
            key = await db.scalar(
                select(SessionFile.storage_key).where(SessionFile.id == document_id)
            )
        chunks = self._storage.read(key or "")
        try:
            first = await anext(chunks, b"")
        except (FileNotStored, ValueError):
            log.warning("session %s: the file of document %s is missing", session_id, document_id)
            raise DocumentNotFound() from None
        return document, _prepend(first, chunks)

    async def _session_total(self, session_id: str) -> int:
        async with self._service.db() as db:
            total = await db.scalar(
                select(func.coalesce(func.sum(SessionFile.size), 0)).where(
                    SessionFile.session_id == session_id, SessionFile.kind.in_(KINDS)
                )
            )
        return int(total or 0)

    @staticmethod
    def _megabytes(size: int) -> str:
        return f"{size / MEGABYTE:g}"


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _document(row: SessionFile) -> Document:
    return Document(
        id=row.id,
        session_id=row.session_id,
        kind=row.kind,
        direction=row.direction or TO_PATIENT,
        name=row.name or f"{row.kind}{EXTENSIONS.get(row.content_type, '')}",
        content_type=row.content_type,
        size=row.size,
        sent_at=row.taken_at,
        sent_by=row.taken_by,
    )
