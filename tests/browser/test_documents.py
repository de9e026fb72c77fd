"""Documents and photos both ways in real Chromium.

The patient, whose camera never started, sends a photo from the phone (the file input): the
regulator's room lists it and the console, out of sight, alerts. The regulator sends a PDF and an
image: the patient's page lists them, to open or save. With the camera on, "Photo HD" makes the
phone take a full-resolution photo (ImageCapture where Chromium has it, else the live frame) that
reaches the room at the camera's own resolution.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from .pages import camera_on, log_in, loopback_ice, open_link, patient_link, settings, start_service
from .test_texts import HIDE, OBSERVE_NOTIFICATIONS, ROOM_TITLE, SHOW

__all__ = ["loopback_ice"]

pytestmark = [pytest.mark.timeout(180)]

NBSP = "\u00a0"


async def _files(page: Page, folder: Path) -> dict[str, Path]:
    """A real JPEG, PNG and PDF, made by Chromium itself from a small page."""
    await page.set_content(
        "<body style='margin:0;background:#fde68a;font:32px sans-serif'>"
        "<h1 style='color:#b42318'>Position latérale de sécurité</h1><p>1. Allongez…</p></body>"
    )
    files = {
        "plaie.jpg": await page.screenshot(type="jpeg", quality=80),
        "schema PLS.png": await page.screenshot(type="png"),
        "Fiche gestes.pdf": await page.pdf(),
    }
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths


async def test_given_documents_both_ways_and_an_hd_photo_then_each_side_sees_them(
    browser: BrowserContext,
    second_browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    base = str(client.make_url("/")).rstrip("/")
    await browser.grant_permissions(["notifications"], origin=base)
    await browser.add_init_script(OBSERVE_NOTIFICATIONS)
    console = await log_in(browser, client, artifacts)
    page = console.page
    maker = await browser.new_page()
    files = await _files(maker, tmp_path)
    await maker.close()

    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    room = page.locator("#stage .room")
    documents = room.locator("[data-field=documents]")
    await expect(documents.locator("[data-field=document-empty]")).to_have_text(
        "Aucun document pour l'instant."
    )
    link = await patient_link(page, console.base)

    # The patient's camera never starts: a photo from the phone's gallery still goes.
    patient = await open_link(second_browser, link)
    section = patient.locator("#documents")
    await expect(section.get_by_text("Prendre une photo")).to_be_visible()
    camera_input = patient.locator("#document-camera")
    assert await camera_input.get_attribute("capture") == "environment"
    assert await camera_input.get_attribute("accept") == "image/*"
    assert await patient.locator("#document-file").get_attribute("accept") == (
        "image/*,application/pdf"
    )
    await expect(page.locator("#room-side .timeline")).to_contain_text("Lien ouvert par le patient")
    await page.evaluate(HIDE)
    await patient.locator("#document-file").set_input_files(str(files["plaie.jpg"]))
    upload = section.locator(".upload").first
    await expect(upload.locator(".upload-status")).to_have_text("Envoyé au régulateur.")
    await expect(section.locator(".received-item")).to_have_count(1)
    await expect(section.locator(".received-from")).to_have_text("Envoyé par vous")
    await console.shot("documents-patient-sent", patient)

    received = documents.locator(".document[data-direction=from_patient]")
    await expect(received).to_have_count(1)
    await expect(received.locator(".document-name")).to_have_text("plaie.jpg")
    await expect(page).to_have_title("(1) Photo ou document du patient — VisioRegul")
    seen = await page.evaluate("window.seenNotifications")
    assert seen[-1]["title"] == "Photo ou document du patient"
    await page.evaluate(SHOW)
    await expect(page).to_have_title(ROOM_TITLE)
    thumbnail = received.locator(".document-image")
    await expect(thumbnail).to_have_js_property("complete", True)
    assert await thumbnail.evaluate("(image) => image.naturalWidth") > 0
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        f"Document reçu du patient{NBSP}: plaie.jpg"
    )

    # The regulator sends a PDF and an image; the patient's page lists them, newest first.
    await documents.locator("[data-field=document-input]").set_input_files(
        [str(files["Fiche gestes.pdf"]), str(files["schema PLS.png"])]
    )
    await expect(documents.locator("[data-field=document-status]")).to_have_text(
        f"«{NBSP}schema PLS.png{NBSP}» envoyé au patient."
    )
    await expect(documents.locator(".document[data-direction=to_patient]")).to_have_count(2)
    await expect(documents.locator(".document-badge")).to_have_text("PDF")
    await console.shot("documents-room")

    await expect(patient.locator("#document-notice")).to_have_text(
        "Le régulateur vous a envoyé un document."
    )
    from_regulator = section.locator(".received-item[data-direction=to_patient]")
    await expect(from_regulator).to_have_count(2)
    await expect(from_regulator.locator(".received-name")).to_have_text(
        ["schema PLS.png", "Fiche gestes.pdf"]
    )
    await console.shot("documents-patient-received", patient)

    # Save: the file itself under its name. Open: shown by the browser, sandboxed.
    pdf = from_regulator.filter(has_text="Fiche gestes.pdf")
    async with patient.expect_download() as download_info:
        await pdf.get_by_role("link", name="Enregistrer").click()
    download = await download_info.value
    assert download.suggested_filename == "Fiche gestes.pdf"
    saved = tmp_path / "saved.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == files["Fiche gestes.pdf"].read_bytes()
    image = from_regulator.filter(has_text="schema PLS.png")
    async with patient.context.expect_page() as opened_info:
        await image.get_by_role("link", name="Ouvrir").click()
    opened = await opened_info.value
    await opened.wait_for_load_state()
    assert opened.url.endswith("?inline=1")
    shown = opened.locator("img")
    await expect(shown).to_have_js_property("complete", True)
    assert await shown.evaluate("(image) => image.naturalWidth") > 0
    href = await image.get_by_role("link", name="Ouvrir").get_attribute("href")
    response = await patient.request.get(f"{base}{href}")
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["x-content-type-options"] == "nosniff"
    await opened.close()

    # "Photo HD": the camera on, the phone takes a full-resolution photo and sends it.
    await camera_on(patient)
    await expect(room.locator("[data-field=video]")).to_have_attribute("data-playing", "true")
    await documents.get_by_role("button", name="Photo HD").click()
    await expect(patient.locator("#document-notice")).to_have_text(
        "Le régulateur a pris une photo avec votre caméra."
    )
    await expect(patient.locator("#documents")).to_be_visible()
    photo = documents.locator(".document[data-direction=from_patient]").first
    await expect(documents.locator(".document[data-direction=from_patient]")).to_have_count(2)
    await expect(photo.locator(".document-caption")).to_contain_text("Photo HD reçue à")
    await expect(patient.locator("#document-notice")).to_have_text(
        "Le régulateur a pris une photo avec votre caméra."
    )
    photo_image = photo.locator(".document-image")
    await expect(photo_image).to_have_js_property("complete", True)
    size = await photo_image.evaluate("(image) => [image.naturalWidth, image.naturalHeight]")
    expected = await patient.evaluate(
        """async () => {
          const track = document.getElementById('preview').srcObject.getVideoTracks()[0];
          const settings = track.getSettings();
          const sizes = [[settings.width, settings.height]];
          if (typeof ImageCapture === 'function') {
            try {
              const caps = await new ImageCapture(track).getPhotoCapabilities();
              sizes.push([caps.imageWidth.max, caps.imageHeight.max]);
            } catch {}
          }
          return sizes;
        }"""
    )
    assert size in expected, (size, expected)
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        "Photo HD reçue du téléphone"
    )
    await console.shot("documents-hd-photo")
    await console.shot("documents-patient-hd-photo", patient)

    await patient.close()
    assert console.unexpected_problems() == []


NO_IMAGE_CAPTURE = "delete window.ImageCapture;"


async def test_given_no_image_capture_then_photo_hd_is_the_live_frame_at_the_tracks_size(
    browser: BrowserContext,
    second_browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    """A browser without ImageCapture (Safari, Firefox): the photo is the camera's current frame,
    at the track's own resolution; without a camera the command is refused in words."""
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    room = page.locator("#stage .room")
    documents = room.locator("[data-field=documents]")
    link = await patient_link(page, console.base)
    patient = await open_link(second_browser, link, NO_IMAGE_CAPTURE)

    # No camera yet: nothing to photograph, said plainly.
    await expect(page.locator("#room-side .timeline")).to_contain_text("Lien ouvert par le patient")
    await documents.get_by_role("button", name="Photo HD").click()
    await expect(documents.locator("[data-field=document-status]")).to_have_text(
        f"Non disponible sur ce téléphone{NBSP}: la commande n'a pas été envoyée."
    )
    await expect(page.locator("#room-side .timeline")).to_contain_text(
        f"prendre une photo HD{NBSP}: non disponible sur ce téléphone"
    )

    await camera_on(patient)
    await expect(room.locator("[data-field=video]")).to_have_attribute("data-playing", "true")
    # While the video runs, an empty documents block leaves the screen to the video.
    await expect(patient.locator("#documents")).to_be_hidden()
    await documents.get_by_role("button", name="Photo HD").click()
    await expect(patient.locator("#document-notice")).to_have_text(
        "Le régulateur a pris une photo avec votre caméra."
    )
    await expect(patient.locator("#documents")).to_be_visible()
    photo = documents.locator(".document[data-direction=from_patient]")
    await expect(photo).to_have_count(1)
    await expect(documents.locator("[data-field=document-status]")).to_have_text(
        "Photo HD reçue du téléphone."
    )
    image = photo.locator(".document-image")
    await expect(image).to_have_js_property("complete", True)
    size = await image.evaluate("(image) => [image.naturalWidth, image.naturalHeight]")
    track = await patient.evaluate(
        """() => {
          const settings = document.getElementById('preview').srcObject
            .getVideoTracks()[0].getSettings();
          return [settings.width, settings.height];
        }"""
    )
    assert size == track
    await expect(photo.locator(".document-name")).to_have_text(re.compile(r"^photo-hd-.*\.jpg$"))
    await patient.close()
    assert console.unexpected_problems(409) == []


async def test_given_a_weak_network_then_the_patients_upload_is_tried_again_and_arrives(
    browser: BrowserContext,
    second_browser: BrowserContext,
    aiohttp_client: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    """The first try is cut by the network: the page says so, tries again by itself, and the
    photo arrives; a file of a refused type gets the service's words and can be removed."""
    client = await start_service(aiohttp_client, settings(tmp_path), tmp_path)
    console = await log_in(browser, client, artifacts)
    page = console.page
    maker = await browser.new_page()
    files = await _files(maker, tmp_path)
    await maker.close()
    card = page.locator("#stage .call-card")
    await card.locator(".invite-input").fill("06 12 34 56 78")
    await card.locator("[data-field=submit]").click()
    documents = page.locator("#stage .room [data-field=documents]")
    link = await patient_link(page, console.base)
    patient = await open_link(second_browser, link)
    cut: list[str] = []

    async def cut_first(route: Any) -> None:
        if route.request.method == "PATCH" and not cut:
            cut.append(route.request.url)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await patient.route("**/uploads/*", cut_first)
    await patient.locator("#document-file").set_input_files(str(files["plaie.jpg"]))
    upload = patient.locator(".upload").first
    await expect(upload.locator(".upload-status")).to_have_text(
        "Réseau faible, nouvel essai dans un instant…"
    )
    await console.shot("documents-patient-retrying", patient)
    await expect(upload.locator(".upload-status")).to_have_text("Envoyé au régulateur.")
    assert len(cut) == 1
    await expect(documents.locator(".document[data-direction=from_patient]")).to_have_count(1)

    svg = tmp_path / "schema.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    await patient.locator("#document-file").set_input_files(str(svg))
    refused = patient.locator(".upload").first
    await expect(refused.locator(".upload-status")).to_have_text(
        f"Ce type de fichier n'est pas accepté{NBSP}: seulement des photos (JPEG, PNG, WebP, "
        "HEIC) et des PDF. Rien n'a été enregistré."
    )
    await console.shot("documents-patient-refused", patient)
    await refused.get_by_role("button", name="Retirer").click()
    await expect(patient.locator(".upload")).to_have_count(1)
    await expect(documents.locator(".document")).to_have_count(1)
    await patient.close()
