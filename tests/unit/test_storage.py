"""The file storage: put, get, delete by key, a whole prefix at once, and keys that cannot leave
the store's root."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from visioregul.integration.storage import DirectoryStorage, FileNotStored, FileStorage, check_key


async def test_given_a_file_put_when_getting_it_then_the_same_bytes(tmp_path: Path) -> None:
    storage = DirectoryStorage(tmp_path / "files")
    assert isinstance(storage, FileStorage)

    await storage.put("sessions/abc/stills/1.jpg", b"\xff\xd8 picture")

    assert await storage.get("sessions/abc/stills/1.jpg") == b"\xff\xd8 picture"
    path = tmp_path / "files" / "sessions" / "abc" / "stills" / "1.jpg"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "health data: the service's user only"
    assert [p.name for p in path.parent.iterdir()] == ["1.jpg"], "no temporary file left"


async def test_given_a_key_put_twice_then_the_last_bytes_win(tmp_path: Path) -> None:
    storage = DirectoryStorage(tmp_path)
    await storage.put("a/b.jpg", b"first")
    await storage.put("a/b.jpg", b"second")
    assert await storage.get("a/b.jpg") == b"second"


async def test_given_a_deleted_or_unknown_key_when_getting_it_then_file_not_stored(
    tmp_path: Path,
) -> None:
    storage = DirectoryStorage(tmp_path)
    await storage.put("a/b.jpg", b"x")
    await storage.delete("a/b.jpg")
    await storage.delete("a/b.jpg")  # twice: nothing happens

    for key in ("a/b.jpg", "never/put.jpg"):
        with pytest.raises(FileNotStored):
            await storage.get(key)


async def test_given_files_of_two_sessions_when_deleting_one_prefix_then_only_its_files_go(
    tmp_path: Path,
) -> None:
    storage = DirectoryStorage(tmp_path)
    await storage.put("sessions/one/stills/1.jpg", b"1")
    await storage.put("sessions/one/stills/2.jpg", b"2")
    await storage.put("sessions/onetwo/stills/3.jpg", b"3")

    await storage.delete_prefix("sessions/one")
    await storage.delete_prefix("sessions/none")  # nothing there: nothing happens

    with pytest.raises(FileNotStored):
        await storage.get("sessions/one/stills/1.jpg")
    assert await storage.get("sessions/onetwo/stills/3.jpg") == b"3"


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../x", "a/../../x", "a/./b", ".hidden", "a//b", "a/", "A.jpg", "a\\b"],
)
async def test_given_a_key_that_could_leave_the_root_then_refused(tmp_path: Path, key: str) -> None:
    storage = DirectoryStorage(tmp_path / "files")
    with pytest.raises(ValueError):
        check_key(key)
    with pytest.raises(ValueError):
        await storage.put(key, b"x")
    with pytest.raises(ValueError):
        await storage.get(key)
    assert not (tmp_path / "files").exists()
