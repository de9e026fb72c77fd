"""``visioregul check-asterisk``: what works and what is missing, in plain words.

Connects with the configured credentials, exactly as the service would, and checks: AMI
reachable and login accepted; the actions the service needs are granted (and whether more are
granted than needed); the shipped dialplan's tag subroutine is loaded; ARI reachable, user
accepted and allowed to subscribe. With ``wait_call`` it also waits for a real tagged call and
checks that its events arrive (the AMI event classes cannot be read back otherwise) and that
its line is declared in ``telephony.lines``. The modules the shipped dialplan uses are checked
when the user may ask (ModuleCheck needs 'system'), and the report says plainly when it may not.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp

from ..settings import Settings
from .ami import OneShotManager

__all__ = ["Check", "CheckReport", "Outcome", "check_asterisk"]

NEEDED_ACTIONS = {
    "Status": "read the current channels after each (re)connection",
    "Setvar": "set the pairing variable VISIOREGUL_SESSION on the caller's channel, and answer "
    "the phone key (VISIOREGUL_INVITE)",
}
NEEDED_CLASS = "call"
"""The only write class the service needs. AMI cannot narrow a class down to some of its actions,
so the call-control actions of class ``call`` (Hangup, Redirect, transfers) come with it: the
service never sends them. Any other class (originate, command, system, config...) is more than
needed."""
_PRIV = re.compile(r"\(Priv: ([^)]*)\)\s*$")
_NOTABLE_EXTRA = ("Originate", "Command")
"""Named first when granted beyond need: they place calls, or run any CLI command."""
_LISTED_EXTRA = 6
"""How many extra actions the privileges warning names."""
TAG_CONTEXT = "visioregul-tag"
FEATURE_CONTEXT = "visioregul-feature"
NEEDED_MODULES = {
    "app_stack": "Gosub, to call the tag",
    "app_userevent": "UserEvent, which tells the service about a call",
    "func_logic": "IF, in the tag and the phone key",
    "func_channel": "CHANNEL(linkedid), the call's id",
    "app_waitforcond": "WaitForCondition, the phone key's wait for the answer",
    "app_playtones": "Playtones, the phone key's answer tones",
}
"""The modules the shipped dialplan uses, and what for (``module show like NAME`` on Asterisk)."""
_TIMEOUT = 5.0


class Outcome(StrEnum):
    """How one check went."""

    OK = "ok"
    WARNING = "warning"
    """Works, but not as recommended (e.g. more privileges than needed)."""
    MISSING = "missing"
    """Something the service needs is missing: the command exits non-zero."""
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    outcome: Outcome
    subject: str
    detail: str


@dataclass
class CheckReport:
    """Every check, in order."""

    checks: list[Check] = field(default_factory=list)

    def add(self, outcome: Outcome, subject: str, detail: str) -> None:
        """Append one check."""
        self.checks.append(Check(outcome, subject, detail))

    @property
    def ok(self) -> bool:
        """True when nothing the service needs is missing."""
        return all(check.outcome is not Outcome.MISSING for check in self.checks)

    def render(self) -> str:
        """The report as text, one line per check."""
        marks = {
            Outcome.OK: "[ok]  ",
            Outcome.WARNING: "[warn]",
            Outcome.MISSING: "[FAIL]",
            Outcome.SKIPPED: "[skip]",
        }
        lines = [f"{marks[c.outcome]} {c.subject}: {c.detail}" for c in self.checks]
        lines.append(
            "All that the service needs is in place."
            if self.ok
            else "Something the service needs is missing (see [FAIL] lines)."
        )
        return "\n".join(lines)


async def check_asterisk(settings: Settings, *, wait_call: float = 0.0) -> CheckReport:
    """Run every check against the configured Asterisk."""
    report = CheckReport()
    source = settings.telephony.source
    required_ami = source == "ami"
    await _check_ami(settings, report, required=required_ami, wait_call=wait_call)
    await _check_ari(settings, report, required=source == "ari")
    return report


def _missing_or_warning(required: bool) -> Outcome:
    return Outcome.MISSING if required else Outcome.WARNING


async def _check_ami(
    settings: Settings, report: CheckReport, *, required: bool, wait_call: float
) -> None:
    ami = settings.telephony.ami
    where = f"{ami.host}:{ami.port}"
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ami.host, ami.port), _TIMEOUT
        )
        writer.close()
    except (OSError, TimeoutError) as exc:
        report.add(
            _missing_or_warning(required), "AMI reachable", f"cannot connect to {where}: {exc}"
        )
        return
    report.add(Outcome.OK, "AMI reachable", where)

    events: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
    manager = OneShotManager(
        host=ami.host,
        port=ami.port,
        username=ami.username,
        secret=ami.secret.get_secret_value(),
        events="call,user",
        ping_delay=3600,
        loop=asyncio.get_running_loop(),
    )
    manager.register_event("*", lambda _m, event: events.put_nowait(event))
    manager.connect()
    try:
        try:
            logged_in = await asyncio.wait_for(manager.logged_in, _TIMEOUT)
        except (OSError, TimeoutError) as exc:
            report.add(_missing_or_warning(required), "AMI login", f"no answer: {exc}")
            return
        if not logged_in:
            report.add(
                _missing_or_warning(required),
                "AMI login",
                f"user {ami.username!r} refused: check its secret and permit/deny lines",
            )
            return
        report.add(Outcome.OK, "AMI login", f"user {ami.username!r} accepted")
        await _check_actions(manager, report, required=required)
        await _check_dialplan(manager, report, required=required)
        await _check_modules(manager, report, required=required)
        if wait_call > 0:
            await _check_events(
                events, report, wait_call, required=required, lines=settings.telephony.lines
            )
        else:
            report.add(
                Outcome.SKIPPED,
                "AMI events",
                "run with --wait-call 60 and place a test call to 15 to check them",
            )
    finally:
        manager.close()


async def _check_actions(manager: OneShotManager, report: CheckReport, *, required: bool) -> None:
    # ListCommands lists the actions the user may send, one header each:
    # "Setvar: Sets a channel variable or function value.  (Priv: call,all)".
    reply = await asyncio.wait_for(manager.send_action({"Action": "ListCommands"}), _TIMEOUT)
    granted = _granted_actions(reply)
    granted_names = {name.lower() for name in granted}
    for action, why in NEEDED_ACTIONS.items():
        if action.lower() in granted_names:
            report.add(Outcome.OK, f"AMI action {action}", f"granted ({why})")
        else:
            report.add(
                _missing_or_warning(required),
                f"AMI action {action}",
                f"not granted: add 'write = call' to the user ({why})",
            )
    extra = sorted(
        (name for name, classes in granted.items() if classes and NEEDED_CLASS not in classes),
        key=_extra_order,
    )
    if extra:
        named = ", ".join(extra[:_LISTED_EXTRA])
        if len(extra) > _LISTED_EXTRA:
            named += f" and {len(extra) - _LISTED_EXTRA} more"
        report.add(
            Outcome.WARNING,
            "AMI privileges",
            f"more than needed: write classes other than '{NEEDED_CLASS}' grant {named}; the "
            "service never originates calls or runs commands: use the visioregul-ami template "
            "(read = call,user; write = call)",
        )
    else:
        report.add(
            Outcome.OK,
            "AMI privileges",
            f"no write class beyond '{NEEDED_CLASS}': no Originate, no Command (the service "
            "sends only Status, Getvar and Setvar)",
        )


def _extra_order(name: str) -> tuple[int, str]:
    notable = _NOTABLE_EXTRA.index(name) if name in _NOTABLE_EXTRA else len(_NOTABLE_EXTRA)
    return notable, name.lower()


def _granted_actions(reply: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Action name to its write classes, from a ListCommands reply.

    Actions anyone may send (``Priv: <none>``, such as Ping or ListCommands) get no class.
    """
    granted: dict[str, frozenset[str]] = {}
    for key, value in dict(reply).items():
        match = _PRIV.search(str(value))
        if match is None:  # Response, ActionID and panoramisk's own fields
            continue
        classes = frozenset(
            name.strip().lower() for name in match.group(1).split(",") if name.strip()
        )
        granted[key] = classes - {"all", "<none>"}
    return granted


async def _check_dialplan(manager: OneShotManager, report: CheckReport, *, required: bool) -> None:
    # Getvar is granted to the recommended user (write = call), and DIALPLAN_EXISTS (from the
    # standard func_dialplan) needs no channel: the tag's context is checked without 'reporting'.
    exists = {
        context: await _evaluate(manager, f"DIALPLAN_EXISTS({context},s,1)")
        for context in (TAG_CONTEXT, FEATURE_CONTEXT)
    }
    if all(value in ("0", "1") for value in exists.values()):
        missing = [context for context, value in exists.items() if value != "1"]
        if missing:
            names = ", ".join(f"[{context}]" for context in missing)
            report.add(
                _missing_or_warning(required),
                "Dialplan tag",
                f"{names} not loaded: #include visioregul-extensions.conf in extensions.conf "
                "and reload the dialplan",
            )
        else:
            report.add(
                Outcome.OK, "Dialplan tag", f"[{TAG_CONTEXT}] and [{FEATURE_CONTEXT}] are loaded"
            )
        return
    replies = await asyncio.wait_for(
        manager.send_action({"Action": "ShowDialPlan", "Context": TAG_CONTEXT}), _TIMEOUT
    )
    entries = replies if isinstance(replies, list) else [replies]
    first = entries[0] if entries else {}
    if first.get("Response") == "Error":
        message = str(first.get("Message", ""))
        if "ermission" in message:
            # The recommended user has no 'reporting' right: the test call proves the tag instead.
            report.add(
                Outcome.SKIPPED,
                "Dialplan tag",
                "NOT CHECKED: func_dialplan is not loaded (DIALPLAN_EXISTS) and the user may "
                "not list the dialplan (write = call); run with --wait-call 60 and place a "
                "test call, or load func_dialplan",
            )
        else:
            report.add(
                _missing_or_warning(required),
                "Dialplan tag",
                f"context [{TAG_CONTEXT}] not loaded: #include visioregul-extensions.conf "
                "in extensions.conf and reload the dialplan",
            )
        return
    found = any(entry.get("Context") == TAG_CONTEXT for entry in entries)
    if found:
        report.add(Outcome.OK, "Dialplan tag", f"context [{TAG_CONTEXT}] is loaded")
    else:
        report.add(
            _missing_or_warning(required), "Dialplan tag", f"context [{TAG_CONTEXT}] not found"
        )


async def _evaluate(manager: OneShotManager, expression: str) -> str | None:
    """A dialplan function's value without a channel (AMI Getvar), None when refused."""
    reply = await asyncio.wait_for(
        manager.send_action({"Action": "Getvar", "Variable": expression}), _TIMEOUT
    )
    if reply.get("Response") != "Success":
        return None
    return str(reply.get("Value") or "")


async def _check_modules(manager: OneShotManager, report: CheckReport, *, required: bool) -> None:
    missing: list[str] = []
    for module, _why in NEEDED_MODULES.items():
        reply = await asyncio.wait_for(
            manager.send_action({"Action": "ModuleCheck", "Module": module}), _TIMEOUT
        )
        message = str(reply.get("Message", ""))
        if reply.get("Response") != "Success" and "ermission" in message:
            # ModuleCheck needs the 'system' class, which the service's user must not have.
            names = ", ".join(NEEDED_MODULES)
            report.add(
                Outcome.SKIPPED,
                "Asterisk modules",
                f"NOT CHECKED: the user may not ask (ModuleCheck needs write = system, which "
                f"the service must not have). On Asterisk, 'module show like' must list: "
                f"{names}; or run this check once with an administrator's AMI user",
            )
            return
        if reply.get("Response") != "Success":
            missing.append(module)
    if missing:
        report.add(
            _missing_or_warning(required),
            "Asterisk modules",
            "not loaded: "
            + "; ".join(f"{module} ({NEEDED_MODULES[module]})" for module in missing)
            + ". Add 'load => NAME.so' to modules.conf (autoload = no) and restart Asterisk",
        )
    else:
        report.add(Outcome.OK, "Asterisk modules", ", ".join(NEEDED_MODULES) + " are loaded")


async def _check_events(
    events: asyncio.Queue[Mapping[str, Any]],
    report: CheckReport,
    wait: float,
    *,
    required: bool,
    lines: list[str],
) -> None:
    seen: set[str] = set()
    tagged_lines: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while loop.time() < deadline and not {"tag", "bridge"} <= seen:
        try:
            event = await asyncio.wait_for(events.get(), max(0.05, deadline - loop.time()))
        except TimeoutError:
            break
        if event.get("Event") == "UserEvent" and event.get("UserEvent") == "VisioRegulCall":
            seen.add("tag")
            line = str(event.get("Line") or "")
            if line not in tagged_lines:
                tagged_lines.append(line)
        elif event.get("Event") == "BridgeEnter":
            seen.add("bridge")
    for name, subject, hint in (
        (
            "tag",
            "AMI user events",
            "no VisioRegulCall seen: is the Gosub to visioregul-tag on "
            "the line, and 'read' granting 'user'?",
        ),
        ("bridge", "AMI call events", "no BridgeEnter seen: grant 'read = call'"),
    ):
        if name in seen:
            report.add(Outcome.OK, subject, "received during the test call")
        else:
            report.add(_missing_or_warning(required), subject, hint)
    undeclared = [line for line in tagged_lines if line not in lines]
    if undeclared:
        report.add(
            _missing_or_warning(required),
            "Tagged lines",
            f"line {', '.join(repr(line) for line in undeclared)} is tagged in the dialplan "
            f"but not in telephony.lines {lines}: its calls get no offer. Add it to 'lines' "
            "in the [telephony] section of the configuration",
        )
    elif tagged_lines:
        report.add(
            Outcome.OK,
            "Tagged lines",
            f"line {', '.join(repr(line) for line in tagged_lines)} tagged and declared",
        )


async def _check_ari(settings: Settings, report: CheckReport, *, required: bool) -> None:
    ari = settings.telephony.ari
    base = ari.url.rstrip("/") + "/ari"
    headers = {
        "Authorization": aiohttp.encode_basic_auth(ari.username, ari.password.get_secret_value())
    }
    timeout = aiohttp.ClientTimeout(total=_TIMEOUT)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        try:
            async with http.get(f"{base}/asterisk/info") as response:
                status = response.status
                info = await response.json() if status == 200 else {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            report.add(
                _missing_or_warning(required),
                "ARI reachable",
                f"cannot reach {ari.url}: {exc or type(exc).__name__} "
                "(http.conf enabled? res_ari loaded?)",
            )
            return
        if status in (401, 403):
            report.add(
                _missing_or_warning(required),
                "ARI login",
                f"user {ari.username!r} refused (HTTP {status}): check ari.conf",
            )
            return
        if status != 200:
            report.add(_missing_or_warning(required), "ARI reachable", f"HTTP {status}")
            return
        version = info.get("system", {}).get("version", "?")
        report.add(Outcome.OK, "ARI reachable", f"{ari.url}, Asterisk {version}")
        report.add(Outcome.OK, "ARI login", f"user {ari.username!r} accepted")
        async with http.post(
            f"{base}/applications/{ari.app}/subscription", params={"eventSource": "channel:"}
        ) as response:
            status = response.status
        if status == 404:
            # The application exists only while a WebSocket is connected: that is the service.
            report.add(
                Outcome.OK,
                "ARI application",
                f"{ari.app!r} not connected now (it is while the service runs)",
            )
        elif status == 403:
            report.add(
                Outcome.OK,
                "ARI application",
                f"user {ari.username!r} is read-only, as recommended: events come with "
                "subscribeAll",
            )
        else:
            report.add(
                Outcome.WARNING,
                "ARI application",
                f"user {ari.username!r} may write (read_only = no): the service only reads; "
                "use the visioregul-ari template (read_only = yes)",
            )
