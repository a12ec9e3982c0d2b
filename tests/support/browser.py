"""Headless Chromium for the browser tests: Debian's package, driven by playwright's Python API.

Playwright's own browser downloads are never used (`playwright install` fetches builds from the
network); the system's /usr/bin/chromium is installed with apt when missing, or the session stops
with one line saying how to get it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[1] / ".screenshots"


def ensure_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) as root", pytrace=False)
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if done.returncode != 0:
            pytest.fail(f"could not install chromium with {' '.join(command)}: {done.stderr.strip().splitlines()[-1:]}", pytrace=False)
    return CHROMIUM


@dataclass
class PageWatch:
    """What a page said that it should not have: console errors, uncaught exceptions, dialogs."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page) -> None:  # noqa: ANN001 - playwright's Page
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

        async def dialog(d) -> None:  # noqa: ANN001
            self.dialogs.append(d.message)
            await d.dismiss()

        page.on("dialog", dialog)


async def screenshot(page, name: str) -> Path:  # noqa: ANN001
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
