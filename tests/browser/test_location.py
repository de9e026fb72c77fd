"""The caller's position, end to end in real Chromium: the regulator asks from the room, the
patient's browser answers with Playwright's fixed coordinates (or refuses), and the address comes
from a local stand-in of the geocoding provider, at its HTTP boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Geolocation, Playwright, expect

from visioregul.integration.settings import GeocodingSettings, Settings

from .conftest import launch
from .pages import log_in, open_link, patient_link, settings, start_service

pytestmark = [pytest.mark.timeout(120)]

AMIENS: Geolocation = {"latitude": 49.894067, "longitude": 2.295753, "accuracy": 15}
LABEL = "8 Boulevard du Port 80000 Amiens"


@pytest.fixture
async def geocoder() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """The provider's stand-in: answers every point with one address, records the queries."""
    queries: list[dict[str, str]] = []

    async def reverse(request: web.Request) -> web.Response:
        queries.append(dict(request.query))
        lat = float(request.query["lat"])
        label = LABEL if lat < 49.9 else "1 Rue de la Gare 80000 Amiens"
        feature = {"type": "Feature", "properties": {"label": label}}
        return web.json_response({"type": "FeatureCollection", "features": [feature]})

    app = web.Application()
    app.router.add_get("/geocodage/reverse", reverse)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/geocodage/reverse")), queries
    await server.close()


def _settings(tmp_path: Path, url: str) -> Settings:
    return settings(tmp_path).model_copy(update={"geocoding": GeocodingSettings(url=url)})


async def test_given_the_patient_allows_then_the_room_shows_the_address_and_follows(
    browser: Any,
    playwright_driver: Playwright,
    chromium: str,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
    geocoder: tuple[str, list[dict[str, str]]],
) -> None:
    url, queries = geocoder
    client = await start_service(aiohttp_client, _settings(tmp_path, url), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    link = await patient_link(page, console.base)
    panel = page.locator("#stage .room [data-field=location]")
    await expect(panel).to_be_visible()

    phone = await launch(playwright_driver, chromium, tmp_path / "phone")
    try:
        await phone.grant_permissions(["geolocation"])
        await phone.set_geolocation(AMIENS)
        patient = await open_link(phone, link)
        await expect(patient.get_by_role("button", name="Activer la caméra")).to_be_enabled()

        await panel.get_by_role("button", name="Localiser").click()
        await expect(panel.locator("[data-location=address]")).to_have_text(LABEL)
        await expect(panel.locator("[data-location=coordinates]")).to_have_text(
            "49.89407, 2.29575 — précision 15 m"
        )
        await expect(panel.locator("[data-location=imprecise]")).to_be_hidden()
        google = panel.get_by_role("link", name="Google Maps")
        osm = panel.get_by_role("link", name="OpenStreetMap")
        await expect(google).to_have_attribute(
            "href", "https://www.google.com/maps/search/?api=1&query=49.894067,2.295753"
        )
        await expect(osm).to_have_attribute(
            "href",
            "https://www.openstreetmap.org/?mlat=49.894067&mlon=2.295753#map=18/49.894067/2.295753",
        )
        assert queries[0] == {
            "lon": "2.295753",
            "lat": "49.894067",
            "limit": "1",
            "index": "address",
        }
        location = patient.locator("#location")
        await expect(location).to_contain_text("pour envoyer les secours au bon endroit")
        await expect(patient.locator("#location-status")).to_have_text(
            "Votre position a été envoyée au régulateur."
        )
        await console.shot("location-room-address")
        await console.shot("location-patient-sent", patient)

        # Follow: the patient agrees, then moves 150 m north; the room follows.
        await panel.get_by_role("button", name="Suivre").click()
        await patient.get_by_role("button", name="Partager ma position pendant la visio").click()
        await expect(patient.locator("#location-status")).to_have_text(
            "Votre position est partagée avec le régulateur pendant la visio."
        )
        await expect(panel.locator("[data-location=following]")).to_be_visible()
        await phone.set_geolocation(
            {"latitude": 49.9005, "longitude": AMIENS["longitude"], "accuracy": 900}
        )
        await expect(panel.locator("[data-location=address]")).to_have_text(
            "1 Rue de la Gare 80000 Amiens"
        )
        await expect(panel.locator("[data-location=imprecise]")).to_be_visible()
        await expect(panel.get_by_role("button", name="Arrêter le suivi")).to_be_visible()
        await console.shot("location-room-following")
        await console.shot("location-patient-following", patient)

        # The regulator stops following: the page is told, the room says so.
        await panel.get_by_role("button", name="Arrêter le suivi").click()
        await expect(patient.locator("#location-status")).to_have_text(
            "Le partage de votre position est arrêté."
        )
        await expect(panel.get_by_role("button", name="Suivre")).to_be_visible()
        timeline = page.locator("#room-side .timeline")
        await expect(timeline).to_contain_text(f"Position reçue\u00a0: {LABEL} (précision 15 m)")
        await expect(timeline).to_contain_text("Le patient accepte le suivi de sa position")
        await expect(timeline).to_contain_text("Suivi de la position arrêté")
    finally:
        await phone.close()


async def test_given_the_patient_refuses_then_the_room_says_so_and_a_gone_page_is_told(
    browser: Any,
    playwright_driver: Playwright,
    chromium: str,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
    geocoder: tuple[str, list[dict[str, str]]],
) -> None:
    url, queries = geocoder
    client = await start_service(aiohttp_client, _settings(tmp_path, url), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    link = await patient_link(page, console.base)
    panel = page.locator("#stage .room [data-field=location]")

    phone = await launch(playwright_driver, chromium, tmp_path / "phone")
    try:
        # No permission granted: the browser refuses the page.
        patient = await open_link(phone, link)
        await expect(patient.get_by_role("button", name="Activer la caméra")).to_be_enabled()
        await panel.get_by_role("button", name="Localiser").click()
        await expect(panel.locator("[data-location=failure]")).to_have_text(
            "Le patient a refusé la localisation."
        )
        await expect(panel.locator("[data-location=status]")).to_be_hidden()
        await expect(panel.locator("[data-location=result]")).to_be_hidden()
        await expect(patient.locator("#location-status")).to_contain_text("Position non partagée")
        await expect(page.locator("#room-side .timeline")).to_contain_text(
            "Pas de position\u00a0: Le patient a refusé la localisation."
        )
        await console.shot("location-room-refused")
        await console.shot("location-patient-refused", patient)
        assert queries == []

        # The phone's page goes away: the next request is answered at once.
        await patient.close()
        await panel.get_by_role("button", name="Localiser").click()
        await expect(panel.locator("[data-location=status]")).to_have_text(
            "Le téléphone n'est plus connecté\u00a0: la demande de position n'a pas été envoyée."
        )
        await expect(panel.locator("[data-location=failure]")).to_be_hidden()
        await console.shot("location-room-phone-gone")
    finally:
        await phone.close()
