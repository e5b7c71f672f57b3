"""Screenshots of a built report as a reader sees it, in headless Chromium: the landing page,
one table shown inline (AUC per set, rounded) and the QC section (the overview by cohort).

    .venv/bin/python tests/browser/report_screenshots.py results/report.html screenshots/

Needs Chromium (Debian: ``apt-get install chromium-headless-shell``, or ``chromium``; another
binary through ``$CHROMIUM``) and Playwright (``pip install -e '.[browser]'``; Playwright's own
browser download is not needed). Writes ``landing.png``, ``table.png``, ``qc.png`` and
``texts.json`` (the text each view shows, for checks) into the output folder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path


def chromium() -> str | None:
    """The Chromium binary: ``$CHROMIUM``, else the first of the Debian names on the PATH."""
    return os.environ.get("CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium-headless-shell", "chromium", "chromium-browser")) if p), None)


def _load(page, report: Path) -> None:
    page.goto(report.resolve().as_uri())
    page.get_by_text("1. Summary", exact=True).first.wait_for(timeout=120_000)  # the app has rendered


def _open(page, report: Path, section: str, sub: str, item: str) -> str:
    """Open ``item`` under ``section`` > ``sub`` (its eye button) and return the text it shows."""
    _load(page, report)
    page.get_by_text(section, exact=True).first.click()
    page.get_by_text(sub, exact=True).first.click()
    page.locator("tr", has_text=item).first.locator("a[iconname=eye]").click()
    page.wait_for_timeout(1500)
    return "\n".join(f.inner_text("body") for f in page.frames)


def screenshots(report: Path, out: Path) -> dict[str, str]:
    """The three screenshots of ``report`` in ``out``; returns view -> visible text."""
    from playwright.sync_api import sync_playwright
    out.mkdir(parents=True, exist_ok=True)
    texts = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        _load(page, report)
        page.screenshot(path=out / "landing.png")
        texts["landing"] = page.inner_text("body")
        texts["table"] = _open(page, report, "5. Discrimination", "AUC", "AUC per set")
        page.screenshot(path=out / "table.png")
        texts["qc"] = _open(page, report, "4. Data and quality control", "Preprocessing", "QC overview by cohort")
        page.screenshot(path=out / "qc.png")
        browser.close()
    (out / "texts.json").write_text(json.dumps(texts, indent=1, ensure_ascii=False))
    return texts


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    if chromium() is None:
        sys.exit("no Chromium found: apt-get install chromium-headless-shell (or set $CHROMIUM)")
    for view, text in screenshots(Path(sys.argv[1]), Path(sys.argv[2])).items():
        print(f"{view}: {len(text)} characters of text")
