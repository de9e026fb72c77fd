"""Centre and account administration in the domain: who manages which centre, the roles given,
refusals on oneself, positions never removed from under an account, the centre's hook."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from visioregul.integration import account_admin, accounts, audit, centre_admin, console_logins
from visioregul.integration.authorization import Principal
from visioregul.integration.centre_admin import (
    AccountNotFound,
    CentreNotFound,
    InvalidTimeZone,
    PositionInUse,
    RoleNotAllowed,
    SelfChangeRefused,
)
from visioregul.integration.login_throttle import LocalLoginThrottle, LoginThrottle
from visioregul.integration.positions import declare_positions
from visioregul.integration.store.models import Account, Role

PASSWORD = "correct horse battery"
PATTERN = r"PJSIP/1[0-9]{3}"
CHEF = Principal("chef", Role.ADMIN, 1)
PLATFORM = Principal("plateforme", Role.PLATFORM_ADMIN, 1)


async def add(session: AsyncSession, username: str, role: Role, centre_id: int = 1) -> Account:
    account = await accounts.create_account(
        session, username, PASSWORD, display_name=username, role=role
    )
    account.centre_id = centre_id
    await session.flush()
    return account


async def test_given_roles_then_each_administrator_gives_what_it_may(session: AsyncSession) -> None:
    assert Role.PLATFORM_ADMIN not in centre_admin.grantable_roles(CHEF)
    assert set(centre_admin.grantable_roles(PLATFORM)) == set(Role)
    with pytest.raises(RoleNotAllowed):
        await centre_admin.visible_centres(session, Principal("arm", Role.REGULATOR, 1))


async def test_given_a_centre_admin_then_only_their_centre_exists_for_them(
    session: AsyncSession,
) -> None:
    other = await centre_admin.create_centre(session, PLATFORM, "samu-973", "SAMU 973", None)
    assert [c.code for c in await centre_admin.visible_centres(session, CHEF)] == ["default"]
    assert {c.code for c in await centre_admin.visible_centres(session, PLATFORM)} == {
        "default",
        "samu-973",
    }
    with pytest.raises(CentreNotFound):
        await centre_admin.check_centre(session, CHEF, other.id)
    with pytest.raises(RoleNotAllowed):
        await centre_admin.create_centre(session, CHEF, "samu-974", "SAMU 974", None)
    foreign = await add(session, "arm973", Role.REGULATOR, other.id)
    throttle = LocalLoginThrottle(LoginThrottle())
    # Through one's own centre, another centre's account is an unknown one.
    with pytest.raises(AccountNotFound):
        await account_admin.set_disabled(session, CHEF, 1, foreign.id, True, throttle)
    assert not foreign.disabled


async def test_given_a_centre_saved_then_the_hook_runs_and_the_zone_is_checked(
    session: AsyncSession,
) -> None:
    seen: list[str | None] = []

    async def reload(db: AsyncSession) -> None:
        centre = await centre_admin.check_centre(db, CHEF, 1)
        seen.append(centre.time_zone)

    await centre_admin.save_centre(session, CHEF, 1, " SAMU  31 ", "Indian/Reunion", reload)
    with pytest.raises(InvalidTimeZone):
        await centre_admin.save_centre(session, CHEF, 1, "SAMU 31", "Europe/Atlantis", reload)
    centre = await centre_admin.save_centre(session, CHEF, 1, "SAMU 31", "", reload)
    assert (centre.name, centre.time_zone) == ("SAMU 31", None)
    assert seen == ["Indian/Reunion", None]
    entries = await audit.recent(session, action="centre.saved")
    assert [e.details["time_zone"] for e in entries] == [None, "Indian/Reunion"]
    assert entries[0].details["before"]["time_zone"] == "Indian/Reunion"


async def test_given_a_position_an_account_has_alone_then_it_cannot_be_removed(
    session: AsyncSession,
) -> None:
    await declare_positions(session, ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"])
    throttle = LocalLoginThrottle(LoginThrottle())
    created = await account_admin.create_centre_account(
        session,
        CHEF,
        1,
        username="arm1",
        display_name="ARM 1",
        role="regulator",
        positions=["PJSIP/1001"],
        password=PASSWORD,
        throttle=throttle,
    )
    assert created.positions == ["PJSIP/1001"]
    assert created.must_change_password
    with pytest.raises(PositionInUse) as refused:
        await centre_admin.remove_position(session, CHEF, 1, "PJSIP/1001")
    assert refused.value.details == {"position": "PJSIP/1001", "accounts": "arm1"}
    # With another position it keeps, the account may lose this one.
    await account_admin.update_centre_account(
        session,
        CHEF,
        1,
        created.id,
        display_name="ARM 1",
        role="regulator",
        positions=["PJSIP/1001", "PJSIP/1002"],
        throttle=throttle,
    )
    await centre_admin.remove_position(session, CHEF, 1, "PJSIP/1001")
    holders = await centre_admin.position_holders(session, CHEF, 1)
    assert holders == {"PJSIP/1002": ["arm1"], "PJSIP/1003": []}
    # Its default was the position removed: it chooses among those left at its next sign-in.
    account = await accounts.get_account(session, created.id)
    assert account is not None and account.position is None


async def test_given_an_administrator_then_never_on_themselves_nor_on_a_platform_admin(
    session: AsyncSession,
) -> None:
    chef = await add(session, "chef", Role.ADMIN)
    platform = await add(session, "plateforme", Role.PLATFORM_ADMIN)
    throttle = LocalLoginThrottle(LoginThrottle())
    with pytest.raises(SelfChangeRefused):
        await account_admin.set_disabled(session, CHEF, 1, chef.id, True, throttle)
    with pytest.raises(SelfChangeRefused):
        await account_admin.reset_password(session, CHEF, 1, chef.id, "x" * 12, throttle)
    with pytest.raises(SelfChangeRefused):
        await account_admin.update_centre_account(
            session,
            CHEF,
            1,
            chef.id,
            display_name="Chef",
            role="regulator",
            positions=[],
            throttle=throttle,
        )
    for attempt in (
        account_admin.set_disabled(session, CHEF, 1, platform.id, True, throttle),
        account_admin.reset_password(session, CHEF, 1, platform.id, "x" * 12, throttle),
    ):
        with pytest.raises(RoleNotAllowed):
            await attempt
    # A platform administrator may.
    managed, _revoked = await account_admin.set_disabled(
        session, PLATFORM, 1, chef.id, True, throttle
    )
    assert managed.disabled


async def test_given_a_reset_then_logins_end_failures_are_forgotten_and_a_change_is_due(
    session: AsyncSession,
) -> None:
    arm = await add(session, "arm1", Role.REGULATOR)
    login = await console_logins.open_login(session, arm.id, 3600)
    throttle = LocalLoginThrottle(LoginThrottle(free_failures=1))
    await throttle.failed("user:arm1", "ip:192.0.2.1")
    await throttle.failed("user:arm1", "ip:192.0.2.1")
    assert await throttle.locked_out("user:arm1")
    managed, revoked = await account_admin.reset_password(
        session, CHEF, 1, arm.id, "provisoire-12345", throttle
    )
    assert revoked == [login]
    assert managed.must_change_password and not managed.locked_out
    assert await throttle.locked_out("ip:192.0.2.1"), "the address's failures are not the account's"
    assert await accounts.authenticate(session, "arm1", "provisoire-12345") is not None
    (entry,) = await audit.recent(session, action="account.password_reset")
    assert (entry.actor, entry.target, entry.details["centre"]) == ("chef", "arm1", "default")
