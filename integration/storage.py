"""Where the sessions' files are kept (screenshots, later photos and documents): a small interface.

The service stores and reads files by key only, through :class:`FileStorage`. The default,
:class:`DirectoryStorage`, keeps them under the data directory (``service.data_dir/files``), out
of any folder the web server serves: a file leaves the service only through a route that checks
who asks. Several service instances need a store they all reach; it replaces this one behind the
same protocol.

Keys are relative paths of lowercase letters, digits, ``-``, ``_`` and ``.`` parts separated by
``/`` (``sessions/<session id>/stills/<id>.jpg``), so that no key can leave the store's root; a key
outside that shape is refused with :class:`ValueError` (a programming error, never user input).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

__all__ = ["DirectoryStorage", "FileNotStored", "FileStorage", "check_key"]

_KEY = re.compile(r"^[a-z0-9_-][a-z0-9_.-]{0,127}(/[a-z0-9_-][a-z0-9_.-]{0,127}){0,7}$")
"""Parts never start with a dot (no ``..``, no hidden files); at most 8 parts."""


class FileNotStored(Exception):
    """No file under this key (never stored, or deleted)."""


def check_key(key: str) -> str:
    """``key`` itself when it is a valid storage key; :class:`ValueError` otherwise."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid storage key {key!r}")
    return key


@runtime_checkable
class FileStorage(Protocol):
    """Files by key: what the service needs of any store."""

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (replacing what was there); done once this returns."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; :class:`FileNotStored` when there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``; nothing happens when nothing is stored under it."""
        ...

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the bytes ``chunks`` yields under ``key``, never holding them all in memory;
        return how many. If ``chunks`` raises, nothing is stored and the error propagates."""
        ...

    def read(self, key: str, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        """The bytes under ``key``, chunk by chunk; :class:`FileNotStored` when there are none
        (raised by the first step)."""
        ...

    async def append(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Add the bytes ``chunks`` yields at the end of what is under ``key`` (created when
        there is nothing); return how many. If ``chunks`` raises, what it yielded before stays
        (the partial data of a resumable upload) and the error propagates."""
        ...

    async def size(self, key: str) -> int:
        """How many bytes are under ``key`` (0 when there are none)."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Forget every key under ``prefix/`` (a purged session's files)."""
        ...


class DirectoryStorage:
    """Files in a directory of the local disk: one file per key, written atomically."""

    def __init__(self, root: Path) -> None:
        """Keep files under ``root`` (created on the first write)."""
        self.root = root

    def path(self, key: str) -> Path:
        """Where ``key`` is kept."""
        return self.root.joinpath(*check_key(key).split("/"))

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``: written to a temporary file, synced, then renamed, so that
        a crash never leaves half a file under the key."""
        await asyncio.to_thread(self._put, self.path(key), data)

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`FileNotStored` when there are none."""
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise FileNotStored(key) from None

    async def delete(self, key: str) -> None:
        """Remove the file under ``key``, if any."""
        path = self.path(key)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every file under ``prefix/``."""
        await asyncio.to_thread(shutil.rmtree, self.path(prefix), True)

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store what ``chunks`` yields under ``key``: appended chunk by chunk to a temporary
        file, synced, then renamed; if ``chunks`` raises, the temporary file goes and nothing is
        stored."""
        path = self.path(key)
        temporary, file = await asyncio.to_thread(self._open_temporary, path)
        size = 0
        try:
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(file.write, chunk)
                    size += len(chunk)
                await asyncio.to_thread(self._sync, file)
            finally:
                file.close()
            await asyncio.to_thread(os.replace, temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        return size

    async def read(self, key: str, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        """The file under ``key``, ``chunk_size`` bytes at a time."""
        path = self.path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise FileNotStored(key) from None
        try:
            while chunk := await asyncio.to_thread(file.read, chunk_size):
                yield chunk
        finally:
            file.close()

    async def append(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Append what ``chunks`` yields to the file under ``key``; what was written stays,
        synced, even when ``chunks`` raises or the task is cancelled."""
        path = self.path(key)
        file = await asyncio.to_thread(self._open_append, path)
        written = 0
        try:
            async for chunk in chunks:
                # Written in this thread (a chunk is at most a few tens of kilobytes): a write
                # left running in a worker when the task is cancelled would race the close.
                file.write(chunk)
                written += len(chunk)
        finally:
            self._sync(file)
            file.close()
        return written

    async def size(self, key: str) -> int:
        """The size of the file under ``key`` (0 when there is none)."""
        path = self.path(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return 0

    @staticmethod
    def _open_append(path: Path) -> BinaryIO:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(descriptor, "ab")

    @staticmethod
    def _open_temporary(path: Path) -> tuple[Path, BinaryIO]:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return temporary, open(descriptor, "wb")

    @staticmethod
    def _sync(file: BinaryIO) -> None:
        file.flush()
        os.fsync(file.fileno())

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            # Readable by the service's user only: these are health data.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
