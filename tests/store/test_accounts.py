"""Console accounts: creation rules, sign-in, provisioning."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from visioregul.integration import accounts
from visioregul.integration.accounts import (
    AccountError,
    InvalidDisplayName,
    InvalidPosition,
    InvalidUsername,
    PasswordTooLong,
    UsernameTaken,
    WeakPassword,
    authenticate,
    create_account,
    ensure_account,
    get_account,
    get_account_by_username,
    hash_password,
    verify_password,
)
from visioregul.integration.positions import declare_positions, remove_position
from visioregul.integration.store.models import Account, Role

PASSWORD = "correct horse battery"


async def _count_accounts(session: AsyncSession) -> int:
    return (await session.scalar(select(func.count()).select_from(Account))) or 0


def test_given_a_hash_when_verifying_then_only_the_right_password_matches() -> None:
    password_hash = hash_password(PASSWORD)

    assert password_hash.startswith("$argon2id$")
    assert verify_password(password_hash, PASSWORD)
    assert not verify_password(password_hash, PASSWORD + "!")
    assert not verify_password("not a hash", PASSWORD)


async def test_given_valid_input_when_creating_then_the_account_is_stored_in_lower_case(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    before = datetime.now(UTC)
    async with sessionmaker.begin() as session:
        created = await create_account(
            session,
            "  Alice.Martin ",
            PASSWORD,
            display_name=" Alice Martin ",
            role=Role.REGULATOR,
            position="PJSIP/1001",
        )
        assert created.id is not None

    async with sessionmaker() as session:
        account = await get_account(session, created.id)

    assert account is not None
    assert account.username == "alice.martin"
    assert account.display_name == "Alice Martin"
    assert account.role is Role.REGULATOR
    assert account.position == "PJSIP/1001"
    assert account.disabled is False
    assert account.password_hash != PASSWORD
    assert verify_password(account.password_hash, PASSWORD)
    assert before <= account.created_at <= datetime.now(UTC)
    assert account.created_at.tzinfo is UTC
    assert account.last_login_at is None


async def test_given_an_unknown_id_when_getting_then_none(session: AsyncSession) -> None:
    assert await get_account(session, 424242) is None


async def test_given_an_existing_name_in_other_case_when_creating_then_username_taken(
    session: AsyncSession,
) -> None:
    await create_account(session, "alice", PASSWORD, display_name="Alice", role=Role.DOCTOR)

    with pytest.raises(UsernameTaken) as caught:
        await create_account(session, "ALICE", PASSWORD, display_name="Other", role=Role.ADMIN)

    assert caught.value.error_id == "username-taken"
    assert caught.value.status_code == 409
    assert caught.value.message == "username 'alice' is taken"
    assert caught.value.details == {"username": "alice"}
    assert await _count_accounts(session) == 1


async def test_given_a_lost_race_for_a_name_when_creating_then_username_taken_and_session_usable(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two consoles creating the same name at once: the database's unique constraint decides."""
    await create_account(session, "bob", PASSWORD, display_name="Bob", role=Role.REGULATOR)

    async def not_found(session: AsyncSession, username: str) -> None:
        return None

    with monkeypatch.context() as patch:
        # The other creation was not visible yet when the name was checked.
        patch.setattr(accounts, "get_account_by_username", not_found)
        with pytest.raises(UsernameTaken):
            await create_account(session, "bob", PASSWORD, display_name="Bob 2", role=Role.ADMIN)

    await create_account(session, "carol", PASSWORD, display_name="Carol", role=Role.ADMIN)
    await session.commit()
    names = (await session.scalars(select(Account.username).order_by(Account.username))).all()
    assert names == ["bob", "carol"]


@pytest.mark.parametrize(
    "username", ["ab", "a" * 65, "alice martin", "émile", "al/ice", "al\nice", "\u212aarim", ""]
)
async def test_given_a_bad_username_when_creating_then_invalid_username(
    session: AsyncSession, username: str
) -> None:
    with pytest.raises(InvalidUsername) as caught:
        await create_account(session, username, PASSWORD, display_name="X", role=Role.REGULATOR)

    assert caught.value.error_id == "invalid-username"
    assert caught.value.message == (
        "username must be 3 to 64 characters among a-z, 0-9, '.', '_' and '-'"
    )
    assert await _count_accounts(session) == 0


async def test_given_a_short_password_when_creating_then_weak_password(
    session: AsyncSession,
) -> None:
    with pytest.raises(WeakPassword) as caught:
        await create_account(session, "alice", "elevenchars", display_name="A", role=Role.DOCTOR)

    assert caught.value.error_id == "weak-password"
    assert caught.value.status_code == 400
    assert caught.value.message == "password must be at least 12 characters long"
    assert caught.value.details == {"min_length": 12}
    assert await _count_accounts(session) == 0


async def test_given_bad_other_fields_when_creating_then_each_has_its_error(
    session: AsyncSession,
) -> None:
    cases: list[tuple[type[AccountError], dict[str, str | None]]] = [
        (PasswordTooLong, {"password": "x" * 1025}),
        (InvalidDisplayName, {"display_name": "   "}),
        (InvalidDisplayName, {"display_name": "x" * 129}),
        (InvalidPosition, {"position": ""}),
        (InvalidPosition, {"position": "PJSIP/" + "1" * 64}),
    ]
    for error, change in cases:
        fields: dict[str, str | None] = {
            "password": PASSWORD,
            "display_name": "Alice",
            "position": None,
        } | change
        with pytest.raises(error):
            await create_account(
                session,
                "alice",
                fields["password"] or "",
                display_name=fields["display_name"] or "",
                role=Role.REGULATOR,
                position=fields["position"],
            )
    assert {error.error_id for error, _ in cases} == {
        "password-too-long",
        "invalid-display-name",
        "invalid-position",
    }
    assert await _count_accounts(session) == 0


async def test_given_the_right_password_when_authenticating_then_the_account_and_login_time(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        await create_account(session, "alice", PASSWORD, display_name="A", role=Role.REGULATOR)

    async with sessionmaker.begin() as session:
        account = await authenticate(session, "Alice", PASSWORD)
        assert account is not None
        assert account.username == "alice"

    async with sessionmaker() as session:
        stored = await get_account_by_username(session, "alice")
    assert stored is not None
    assert stored.last_login_at is not None
    assert stored.last_login_at.tzinfo is UTC
    assert (datetime.now(UTC) - stored.last_login_at).total_seconds() < 60


async def test_given_a_wrong_password_when_authenticating_then_none_and_no_login_time(
    session: AsyncSession,
) -> None:
    account = await create_account(
        session, "alice", PASSWORD, display_name="A", role=Role.REGULATOR
    )

    assert await authenticate(session, "alice", PASSWORD.upper()) is None
    assert await authenticate(session, "alice", "") is None
    assert account.last_login_at is None


async def test_given_an_unknown_user_when_authenticating_then_none_after_a_real_verification(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown name costs one hash verification too, so timing does not reveal names."""
    verified: list[str] = []
    real_verify = accounts.verify_password

    def spy(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", spy)

    assert await authenticate(session, "nobody", PASSWORD) is None
    assert await authenticate(session, "not a valid name!", PASSWORD) is None
    assert len(verified) == 2
    assert all(h.startswith("$argon2id$") for h in verified)


async def test_given_a_disabled_account_when_authenticating_then_none(
    session: AsyncSession,
) -> None:
    account = await create_account(
        session, "alice", PASSWORD, display_name="A", role=Role.REGULATOR
    )
    account.disabled = True
    await session.flush()

    assert await authenticate(session, "alice", PASSWORD) is None
    assert account.last_login_at is None


async def test_given_a_hash_with_old_parameters_when_authenticating_then_it_is_upgraded(
    session: AsyncSession,
) -> None:
    account = await create_account(
        session, "alice", PASSWORD, display_name="A", role=Role.REGULATOR
    )
    weak_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    account.password_hash = weak_hash
    await session.flush()

    assert await authenticate(session, "alice", PASSWORD) is account

    assert account.password_hash != weak_hash
    assert not PasswordHasher().check_needs_rehash(account.password_hash)
    assert verify_password(account.password_hash, PASSWORD)


async def test_given_no_account_when_ensuring_then_it_is_created(session: AsyncSession) -> None:
    account = await ensure_account(
        session, "demo", PASSWORD, display_name="Demo", role=Role.REGULATOR, position="PJSIP/1001"
    )

    assert account.id is not None
    assert await authenticate(session, "demo", PASSWORD) is account


async def test_given_an_existing_account_when_ensuring_then_it_is_reset_in_place(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        first = await ensure_account(
            session, "demo", PASSWORD, display_name="Demo", role=Role.REGULATOR
        )
        first.disabled = True

    new_password = "another long passphrase"
    async with sessionmaker.begin() as session:
        again = await ensure_account(
            session, "DEMO", new_password, display_name="Démo", role=Role.DOCTOR, position="PJSIP/2"
        )

    async with sessionmaker.begin() as session:
        assert await _count_accounts(session) == 1
        assert await authenticate(session, "demo", PASSWORD) is None
        account = await authenticate(session, "demo", new_password)
    assert account is not None
    assert account.id == first.id == again.id
    assert (account.display_name, account.role, account.position, account.disabled) == (
        "Démo",
        Role.DOCTOR,
        "PJSIP/2",
        False,
    )


async def test_given_ensure_with_a_weak_password_when_the_account_exists_then_weak_password(
    session: AsyncSession,
) -> None:
    await ensure_account(session, "demo", PASSWORD, display_name="Demo", role=Role.ADMIN)

    with pytest.raises(WeakPassword):
        await ensure_account(session, "demo", "short", display_name="Demo", role=Role.ADMIN)


def test_given_a_new_hash_then_its_parameters_meet_the_owasp_minimum() -> None:
    """Guards the hasher's parameters against being lowered by mistake."""
    parameters = extract_parameters(hash_password(PASSWORD))

    assert parameters.type is Type.ID
    assert parameters.memory_cost >= 19 * 1024
    assert parameters.time_cost >= 2


async def test_given_positions_when_creating_then_they_are_declared_and_granted(
    session: AsyncSession,
) -> None:
    account = await create_account(
        session,
        "alice",
        PASSWORD,
        display_name="A",
        role=Role.REGULATOR,
        positions=["PJSIP/1002", " PJSIP/1001 "],
        position_pattern=r"PJSIP/1[0-9]{3}",
    )

    assert account.position == "PJSIP/1002"  # the first is the default
    assert await accounts.account_positions_of(session, account) == ["PJSIP/1001", "PJSIP/1002"]
    assert await accounts.declared_positions(session) == ["PJSIP/1001", "PJSIP/1002"]


async def test_given_a_position_outside_the_pattern_when_creating_then_refused_and_nothing_kept(
    session: AsyncSession,
) -> None:
    for wrong in ("PJSIP/trunk-orange", "Local/1001@agents", "PJSIP/10011"):
        with pytest.raises(InvalidPosition) as caught:
            await create_account(
                session,
                "alice",
                PASSWORD,
                display_name="A",
                role=Role.REGULATOR,
                positions=["PJSIP/1001", wrong],
                position_pattern=r"PJSIP/1[0-9]{3}",
            )
        assert wrong in caught.value.message
    assert await _count_accounts(session) == 0
    assert await accounts.declared_positions(session) == []


async def test_given_an_account_when_provisioned_again_then_its_positions_are_exactly_the_new(
    session: AsyncSession,
) -> None:
    account = await ensure_account(
        session, "alice", PASSWORD, display_name="A", role=Role.DOCTOR, positions=["PJSIP/1001"]
    )
    await ensure_account(
        session,
        "alice",
        PASSWORD,
        display_name="A",
        role=Role.DOCTOR,
        positions=["PJSIP/1002", "PJSIP/1003"],
    )

    assert account.position == "PJSIP/1002"
    assert await accounts.account_positions_of(session, account) == ["PJSIP/1002", "PJSIP/1003"]
    # Declared positions stay declared: another account may have them.
    assert await accounts.declared_positions(session) == ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"]


async def test_given_an_account_given_no_position_then_it_may_take_every_declared_one(
    session: AsyncSession,
) -> None:
    await declare_positions(session, ["PJSIP/1003", "PJSIP/1001"])
    account = await create_account(session, "alice", PASSWORD, display_name="A", role=Role.DOCTOR)

    assert account.position is None
    assert await accounts.account_positions_of(session, account) == ["PJSIP/1001", "PJSIP/1003"]


async def test_given_a_position_removed_then_accounts_lose_it(session: AsyncSession) -> None:
    account = await create_account(
        session,
        "alice",
        PASSWORD,
        display_name="A",
        role=Role.REGULATOR,
        positions=["PJSIP/1001", "PJSIP/1002"],
    )

    assert await remove_position(session, "PJSIP/1001")
    assert not await remove_position(session, "PJSIP/1001")
    await session.refresh(account)

    assert account.position is None
    assert await accounts.account_positions_of(session, account) == ["PJSIP/1002"]
