"""A session's report with 20 stills: from the request to the whole PDF, as the CAD fetches it.

The service runs in-process from ``create_app`` on its embedded defaults (SQLite file, telephony
off). One session gets 20 stills (real 1280x720 JPEG pictures, about 100 KB each, as the relay
takes them), 40 timeline events and a document, then ends; its PDF is fetched
``VISIOREGUL_BENCH_REPORT_RUNS`` times (10) through ``GET /api/v1/sessions/{id}/report.pdf``,
and the rendering alone (fpdf2, in a thread) is timed too. Target: under 2 s.

A benchmark: it prints its figures and asserts only that each PDF holds the 20 stills.
"""

from __future__ import annotations

import io
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from pypdf import PdfReader

from tests.web.conftest import CAD_KEY, make_settings
from tests.web.helpers import add_regulator
from visioregul.integration import appkeys
from visioregul.integration.app import create_app
from visioregul.integration.report_pdf import render_pdf
from visioregul.integration.reports import build_report
from visioregul.integration.sessions.services import Actor

RUNS = int(os.environ.get("VISIOREGUL_BENCH_REPORT_RUNS", "10"))
STILLS = 20


def _picture(seed: int) -> bytes:
    """A 1280x720 JPEG with enough detail to weigh what a real still weighs."""
    rng = random.Random(seed)
    image = Image.new("RGB", (1280, 720), (rng.randrange(256), 90, 120))
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        x, y = rng.randrange(1280), rng.randrange(720)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x, y, x + rng.randrange(4, 80), y + rng.randrange(4, 80)), fill=colour)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


async def _chunks(data: bytes) -> Any:
    yield data


async def test_report_pdf_with_20_stills(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    app = client.app
    await add_regulator(app)
    auth = {"Authorization": f"Bearer {CAD_KEY}"}
    response = await client.post(
        "/api/v1/sessions", json={"destination": "0612345678"}, headers=auth
    )
    session_id = (await response.json())["id"]
    actor = Actor("regulateur", "PJSIP/1001")
    service = app[appkeys.SESSION_SERVICE]
    sizes = []
    for number in range(STILLS):
        picture = _picture(number)
        sizes.append(len(picture))
        await app[appkeys.STILLS].keep(session_id, actor, picture)
        await service.record(session_id, actor, "text.sent", {"text": f"Consigne n° {number}"})
    await app[appkeys.DOCUMENTS].receive(
        session_id, actor, direction="to_patient", name="plan.pdf", chunks=_chunks(b"%PDF-1.7\n")
    )
    await service.end(session_id, actor)

    requests: list[float] = []
    renders: list[float] = []
    size = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        answer = await client.get(f"/api/v1/sessions/{session_id}/report.pdf", headers=auth)
        pdf = await answer.read()
        requests.append((time.perf_counter() - started) * 1000)
        assert answer.status == 200
        size = len(pdf)
        reader = PdfReader(io.BytesIO(pdf))
        assert sum(len(page.images) for page in reader.pages) == STILLS
        report = await build_report(
            service,
            app[appkeys.STILLS],
            app[appkeys.DOCUMENTS],
            app[appkeys.CATALOGUE],
            session_id,
            time_zone="Europe/Paris",
        )
        started = time.perf_counter()
        render_pdf(report)
        renders.append((time.perf_counter() - started) * 1000)
    print(
        f"\nreport with {STILLS} stills of {statistics.mean(sizes) / 1024:.0f} KB on average, "
        f"{len(reader.pages)} pages, PDF {size / 1024:.0f} KB; {RUNS} runs"
    )
    for name, timings in (("request to whole PDF", requests), ("rendering alone", renders)):
        timings.sort()
        print(
            f"{name:22} p50 {statistics.median(timings):7.1f} ms   "
            f"max {timings[-1]:7.1f} ms   (target < 2000 ms)"
        )
