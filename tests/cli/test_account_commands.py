"""``visioregul account list|disable|remove``."""

from __future__ import annotations

from .conftest import Visioregul

PASSWORD = "correct horse battery"


def _add(visioregul: Visioregul, username: str, *args: str) -> None:
    result = visioregul("account", "add", username, "--password-stdin", *args, stdin=PASSWORD)
    assert result.returncode == 0, result.stderr


def test_given_accounts_when_listing_then_each_is_shown_with_its_state(
    visioregul: Visioregul,
) -> None:
    _add(visioregul, "mdupont", "--role", "doctor", "--position", "PJSIP/1003")
    _add(visioregul, "arm1")
    assert visioregul("account", "disable", "arm1").returncode == 0
    result = visioregul("account", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["arm1", "regulator", "disabled"],
        ["mdupont", "doctor", "enabled"],
    ]
    assert "PJSIP/1003" in lines[1]


def test_given_an_unknown_account_then_disable_and_remove_say_so(visioregul: Visioregul) -> None:
    for action in ("disable", "remove"):
        result = visioregul("account", action, "nobody")
        assert result.returncode == 2
        assert result.stderr.strip() == "visioregul: no account named 'nobody'"


def test_given_an_account_without_history_then_remove_deletes_it(visioregul: Visioregul) -> None:
    _add(visioregul, "typo")
    result = visioregul("account", "remove", "typo")
    assert (result.returncode, result.stdout.strip()) == (0, "account typo removed")
    assert visioregul("account", "list").stdout == ""


def test_given_the_platform_administrators_role_then_account_add_creates_one(
    visioregul: Visioregul,
) -> None:
    _add(visioregul, "plateforme", "--role", "platform_admin")
    result = visioregul("account", "list")
    assert result.returncode == 0, result.stderr
    assert [line.split()[:3] for line in result.stdout.splitlines()] == [
        ["plateforme", "platform_admin", "enabled"]
    ]
