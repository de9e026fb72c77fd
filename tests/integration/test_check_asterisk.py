"""``visioregul check-asterisk`` against the sandbox Asterisk: what it finds, and what it misses.

The sandbox declares the service's AMI and ARI users from the shipped templates, so a clean
report here is what a centre that installed the shipped files sees. Wrong credentials and closed
ports give ``[FAIL]`` lines; an untagged line (no ``Gosub`` to ``visioregul-tag``) is caught by a
real test call.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.sandbox.asterisk import SandboxAsterisk
from tests.sandbox.sipp import place_call, start_phone
from visioregul.integration.settings import Settings
from visioregul.integration.telephony.check import CheckReport, Outcome, check_asterisk

from .service import service_settings

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(90)]

CALLER = "+33612345678"
CHECK_USER = "visioregul"


def outcomes(report: CheckReport) -> dict[str, Outcome]:
    """Each line's subject to its outcome (subjects are unique in a report)."""
    subjects = [check.subject for check in report.checks]
    assert len(subjects) == len(set(subjects)), report.render()
    return {check.subject: check.outcome for check in report.checks}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_ami(settings: Settings, **changes: object) -> Settings:
    ami = settings.telephony.ami.model_copy(update=changes)
    telephony = settings.telephony.model_copy(update={"ami": ami})
    return settings.model_copy(update={"telephony": telephony})


async def ami_connections(sandbox: SandboxAsterisk, username: str) -> int:
    """How many AMI sessions ``username`` has open right now (``manager show connected``)."""
    output = await sandbox.cli("manager show connected")
    return sum(1 for line in output.splitlines() if line.split()[:1] == [username])


async def check_during_a_call(
    sandbox: SandboxAsterisk, settings: Settings, exten: str, wait_call: float
) -> CheckReport:
    """Run the check with ``wait_call``; place a call to ``exten`` once it is logged in."""
    before = await ami_connections(sandbox, CHECK_USER)
    check = asyncio.create_task(check_asterisk(settings, wait_call=wait_call))
    try:
        # Poll Asterisk until the check's own AMI session is there: a call placed earlier
        # could emit its events before the check listens.
        for _ in range(100):
            if await ami_connections(sandbox, CHECK_USER) > before or check.done():
                break
            await asyncio.sleep(0.05)
        position = exten[-4:]
        phone = await start_phone(sandbox, position)
        call = await place_call(sandbox, CALLER, exten, duration_ms=1500)
        report = await asyncio.wait_for(check, wait_call + 15)
        assert await call.wait(15) == 0, call.report()
        assert await phone.wait(15) == 0, phone.report()
    finally:
        check.cancel()
    return report


async def test_given_the_shipped_users_when_checking_ami_then_everything_needed_is_ok(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    report = await check_asterisk(service_settings(sandbox, "ami", tmp_path))
    assert report.ok, report.render()
    assert outcomes(report) == {
        "AMI reachable": Outcome.OK,
        "AMI login": Outcome.OK,
        "AMI action Status": Outcome.OK,
        "AMI action Setvar": Outcome.OK,
        "AMI privileges": Outcome.OK,
        # Getvar of DIALPLAN_EXISTS works with the recommended rights (write = call).
        "Dialplan tag": Outcome.OK,
        # ModuleCheck needs 'system': not checked, and the report says so plainly.
        "Asterisk modules": Outcome.SKIPPED,
        "AMI events": Outcome.SKIPPED,
        "ARI reachable": Outcome.OK,
        "ARI login": Outcome.OK,
        "ARI application": Outcome.OK,
    }, report.render()
    rendered = report.render()
    assert f"[ok]   AMI login: user {CHECK_USER!r} accepted" in rendered
    assert "[ok]   Dialplan tag: [visioregul-tag] and [visioregul-feature] are loaded" in rendered
    assert "[skip] Asterisk modules: NOT CHECKED: the user may not ask" in rendered
    assert "app_waitforcond" in rendered
    # The shipped ARI user is read-only, and the service's events still come (test_offers).
    assert "[ok]   ARI application: user 'visioregul' is read-only, as recommended" in rendered
    assert "Asterisk 22." in rendered
    assert rendered.endswith("All that the service needs is in place.")


async def test_given_a_tagged_call_when_waiting_for_one_then_its_events_are_seen(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    settings = service_settings(sandbox, "ami", tmp_path)
    report = await check_during_a_call(sandbox, settings, "151001", wait_call=15)
    assert report.ok, report.render()
    lines = outcomes(report)
    assert lines["AMI user events"] is Outcome.OK, report.render()
    assert lines["AMI call events"] is Outcome.OK, report.render()
    assert "AMI events" not in lines


async def test_given_an_untagged_call_when_waiting_for_one_then_user_events_are_missing(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    # 31001 rings 1001 without the Gosub to visioregul-tag: a line the admin forgot to tag.
    settings = service_settings(sandbox, "ami", tmp_path)
    report = await check_during_a_call(sandbox, settings, "31001", wait_call=4)
    assert not report.ok
    lines = outcomes(report)
    assert lines["AMI user events"] is Outcome.MISSING, report.render()
    assert lines["AMI call events"] is Outcome.OK, report.render()
    assert "[FAIL] AMI user events: no VisioRegulCall seen" in report.render()


async def test_given_a_user_with_every_right_then_privileges_warn_but_nothing_is_missing(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    settings = with_ami(
        service_settings(sandbox, "ami", tmp_path),
        username=sandbox.admin_ami_user,
        secret=SecretStr(sandbox.admin_ami_secret),
    )
    report = await check_asterisk(settings)
    assert report.ok, report.render()
    lines = outcomes(report)
    assert lines["AMI privileges"] is Outcome.WARNING, report.render()
    assert lines["Dialplan tag"] is Outcome.OK, report.render()
    assert lines["Asterisk modules"] is Outcome.OK, report.render()
    privileges = next(c for c in report.checks if c.subject == "AMI privileges")
    assert privileges.detail.startswith("more than needed: write classes other than 'call' grant")
    assert "(read = call,user; write = call)" in privileges.detail


async def test_given_a_missing_module_then_an_administrator_check_names_it(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    settings = with_ami(
        service_settings(sandbox, "ami", tmp_path),
        username=sandbox.admin_ami_user,
        secret=SecretStr(sandbox.admin_ami_secret),
    )
    await sandbox.cli("module unload app_waitforcond.so")
    try:
        report = await check_asterisk(settings)
    finally:
        await sandbox.cli("module load app_waitforcond.so")
    assert not report.ok
    assert outcomes(report)["Asterisk modules"] is Outcome.MISSING, report.render()
    assert (
        "[FAIL] Asterisk modules: not loaded: app_waitforcond (WaitForCondition, the phone "
        "key's wait for the answer)"
    ) in report.render()


async def test_given_a_tagged_line_not_declared_when_waiting_for_a_call_then_it_is_reported(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    # 171001 is tagged as line 1515, which the service's telephony.lines (["15"]) lacks.
    settings = service_settings(sandbox, "ami", tmp_path)
    report = await check_during_a_call(sandbox, settings, "171001", wait_call=15)
    assert not report.ok
    lines = outcomes(report)
    assert lines["AMI user events"] is Outcome.OK, report.render()
    assert lines["Tagged lines"] is Outcome.MISSING, report.render()
    assert (
        "[FAIL] Tagged lines: line '1515' is tagged in the dialplan but not in telephony.lines"
    ) in report.render()


async def test_given_a_wrong_ami_secret_then_the_login_line_fails(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    settings = service_settings(sandbox, "ami", tmp_path, ami_secret="wrong-secret")
    report = await check_asterisk(settings)
    assert not report.ok
    lines = outcomes(report)
    assert lines["AMI reachable"] is Outcome.OK
    assert lines["AMI login"] is Outcome.MISSING, report.render()
    assert "AMI action Status" not in lines  # nothing more can be checked without a login
    assert f"[FAIL] AMI login: user {CHECK_USER!r} refused" in report.render()


async def test_given_a_wrong_ari_password_with_source_ari_then_the_ari_login_line_fails(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    settings = service_settings(sandbox, "ari", tmp_path, ari_password="wrong")
    report = await check_asterisk(settings)
    assert not report.ok
    lines = outcomes(report)
    assert lines["ARI login"] is Outcome.MISSING, report.render()
    assert "(HTTP 401)" in report.render()
    # AMI is not the source: its lines are informative only, and fine here.
    assert lines["AMI login"] is Outcome.OK


async def test_given_a_closed_ami_port_then_the_reachable_line_fails(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    settings = with_ami(service_settings(sandbox, "ami", tmp_path), port=free_port())
    report = await check_asterisk(settings)
    assert not report.ok
    lines = outcomes(report)
    assert lines["AMI reachable"] is Outcome.MISSING, report.render()
    assert "AMI login" not in lines
    assert "[FAIL] AMI reachable: cannot connect to 127.0.0.1:" in report.render()


async def run_cli(sandbox: SandboxAsterisk, tmp_path: Path, **env: str) -> tuple[int, str]:
    """``visioregul check-asterisk`` as a process, configured through its environment only."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("VISIOREGUL_") or key == "VISIOREGUL_SANDBOX_ROOT"
    }
    environ |= {
        "VISIOREGUL_TELEPHONY__AMI__HOST": sandbox.host,
        "VISIOREGUL_TELEPHONY__AMI__PORT": str(sandbox.ports.ami),
        "VISIOREGUL_TELEPHONY__AMI__USERNAME": sandbox.ami_user,
        "VISIOREGUL_TELEPHONY__AMI__SECRET": sandbox.ami_secret,
        "VISIOREGUL_TELEPHONY__ARI__URL": sandbox.ari_url,
        "VISIOREGUL_TELEPHONY__ARI__USERNAME": sandbox.ari_user,
        "VISIOREGUL_TELEPHONY__ARI__PASSWORD": sandbox.ari_password,
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "visioregul.integration.cli",
        "check-asterisk",
        cwd=tmp_path,
        env=environ,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_given_the_environment_when_running_the_command_then_it_exits_0(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    code, output = await run_cli(sandbox, tmp_path)
    assert code == 0, output
    assert re.search(r"^\[ok\] +AMI login: user 'visioregul' accepted$", output, re.M), output
    assert "[FAIL]" not in output
    assert "All that the service needs is in place." in output


async def test_given_a_wrong_secret_when_running_the_command_then_it_exits_1(
    sandbox: SandboxAsterisk, tmp_path: Path
) -> None:
    code, output = await run_cli(
        sandbox, tmp_path, VISIOREGUL_TELEPHONY__AMI__SECRET="wrong-secret"
    )
    assert code == 1, output
    assert "[FAIL] AMI login: user 'visioregul' refused" in output
    assert "Something the service needs is missing (see [FAIL] lines)." in output
