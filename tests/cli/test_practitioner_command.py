"""``visioregul account practitioner``: the national identifier that signs in with a CPS card."""

from __future__ import annotations

from .conftest import Visioregul

PASSWORD = "correct horse battery"


def _add(visioregul: Visioregul, username: str) -> None:
    result = visioregul("account", "add", username, "--password-stdin", stdin=PASSWORD)
    assert result.returncode == 0, result.stderr


def test_given_an_identifier_then_the_account_lists_it_and_clear_removes_it(
    visioregul: Visioregul,
) -> None:
    _add(visioregul, "mdupont")
    result = visioregul("account", "practitioner", "mdupont", "810012345678")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "account mdupont signs in with Pro Santé Connect as 810012345678"
    )
    assert "[PSC 810012345678]" in visioregul("account", "list").stdout
    result = visioregul("account", "practitioner", "mdupont", "--clear")
    assert result.returncode == 0, result.stderr
    assert "PSC" not in visioregul("account", "list").stdout


def test_given_an_identifier_of_another_account_then_it_is_refused(
    visioregul: Visioregul,
) -> None:
    _add(visioregul, "arm1")
    _add(visioregul, "arm2")
    assert visioregul("account", "practitioner", "arm1", "810012345678").returncode == 0
    result = visioregul("account", "practitioner", "arm2", "810012345678")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "visioregul: account 'arm1' already has this national identifier"
    )


def test_given_bad_arguments_then_each_is_refused_clearly(visioregul: Visioregul) -> None:
    _add(visioregul, "arm1")
    bad = visioregul("account", "practitioner", "arm1", "81 00<script>")
    assert (bad.returncode, bad.stderr.strip()) == (
        2,
        "visioregul: a national identifier is 8 to 32 letters and digits",
    )
    neither = visioregul("account", "practitioner", "arm1")
    assert (neither.returncode, neither.stderr.strip()) == (
        2,
        "visioregul: give either an IDENTIFIER or --clear",
    )
    unknown = visioregul("account", "practitioner", "nobody", "810012345678")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2,
        "visioregul: no account named 'nobody'",
    )
