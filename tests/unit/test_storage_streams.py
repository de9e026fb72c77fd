"""The file storage's streamed writes and reads: chunk by chunk, atomic, nothing left when the
source fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from visioregul.integration.storage import DirectoryStorage, FileNotStored


async def _chunks(*parts: bytes, fail: bool = False) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if fail:
        raise RuntimeError("the sender went away")


async def _read(storage: DirectoryStorage, key: str, chunk_size: int) -> list[bytes]:
    return [chunk async for chunk in storage.read(key, chunk_size)]


async def test_given_chunks_when_written_then_stored_whole_and_read_back_in_chunks(
    tmp_path: Path,
) -> None:
    storage = DirectoryStorage(tmp_path)

    size = await storage.write("sessions/a/documents/1.bin", _chunks(b"abc", b"defg", b"h"))

    assert size == 8
    assert await storage.get("sessions/a/documents/1.bin") == b"abcdefgh"
    assert await _read(storage, "sessions/a/documents/1.bin", 3) == [b"abc", b"def", b"gh"]
    assert (storage.path("sessions/a/documents/1.bin").stat().st_mode & 0o777) == 0o600


async def test_given_a_source_that_fails_then_nothing_is_stored_not_even_a_temporary_file(
    tmp_path: Path,
) -> None:
    storage = DirectoryStorage(tmp_path)
    await storage.write("sessions/a/documents/1.bin", _chunks(b"old"))

    with pytest.raises(RuntimeError):
        await storage.write("sessions/a/documents/1.bin", _chunks(b"new", b"part", fail=True))
    with pytest.raises(RuntimeError):
        await storage.write("sessions/a/documents/2.bin", _chunks(b"x", fail=True))

    assert await storage.get("sessions/a/documents/1.bin") == b"old", "the old file stays whole"
    assert sorted(path.name for path in (tmp_path / "sessions/a/documents").iterdir()) == ["1.bin"]


async def test_given_no_file_then_reading_its_chunks_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotStored):
        await _read(DirectoryStorage(tmp_path), "sessions/a/none.bin", 10)


async def test_given_appends_then_they_add_up_and_a_failing_source_keeps_what_it_gave(
    tmp_path: Path,
) -> None:
    """Partial data of a resumable upload: a sender that goes away keeps its bytes."""
    storage = DirectoryStorage(tmp_path)
    key = "uploads/0123.part"
    assert await storage.size(key) == 0

    assert await storage.append(key, _chunks(b"abc", b"de")) == 5
    with pytest.raises(RuntimeError):
        await storage.append(key, _chunks(b"fgh", fail=True))

    assert await storage.size(key) == 8
    assert await storage.get(key) == b"abcdefgh"
    assert (storage.path(key).stat().st_mode & 0o777) == 0o600
