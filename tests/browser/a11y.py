"""An accessibility check of the page a test has open: axe-core (the npm package) run in the
page, its serious and critical violations listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core's browser build, installed by ``npm ci`` (``make test`` runs it)."""

BLOCKING = ("serious", "critical")
"""The impacts that fail a check: a regulator or a patient who cannot use the screen."""

RUN_AXE = """async () => {
  const results = await window.axe.run(document, {
    resultTypes: ['violations'],
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  });
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(' ')),
  }));
}"""


def axe_source() -> str:
    """axe-core's script; fails (never skips) when the npm packages are missing."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run npm ci (make test does)")
    return AXE.read_text(encoding="utf-8")


async def violations(page: Page) -> list[dict[str, Any]]:
    """The page's violations of every impact, axe-core injected through the browser's devtools
    protocol, which the pages' strict Content-Security-Policy does not apply to."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(axe_source())
    found: list[dict[str, Any]] = await page.evaluate(RUN_AXE)
    return found


def describe(screen: str, found: list[dict[str, Any]], what: str) -> str:
    """One line per violation: its id, the elements at fault and what the rule asks."""
    lines = [f"{screen}: {len(found)} {what} accessibility violation(s)"]
    for violation in found:
        lines.append(
            f"  [{violation['impact']}] {violation['id']}: {violation['help']}"
            f" — {', '.join(violation['targets'][:8])}"
        )
    return "\n".join(lines)


async def check(page: Page, screen: str, failures: list[str]) -> None:
    """Check ``page`` as ``screen``, adding what it finds to ``failures`` (and printing it),
    so that one test reports every screen before it fails."""
    found = await violations(page)
    blocking = [violation for violation in found if violation["impact"] in BLOCKING]
    others = [violation for violation in found if violation["impact"] not in BLOCKING]
    if others:
        # Printed, not failed on: what to look at next.
        print(describe(screen, others, "moderate or minor"))
    if blocking:
        text = describe(screen, blocking, "serious or critical")
        print(text)
        failures.append(text)
