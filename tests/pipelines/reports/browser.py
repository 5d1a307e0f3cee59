"""Headless Chromium for the report tests: render a page, and say what it logged and fetched.

Chromium comes from Debian's package (``infra/chromium.sh``). A page's console output is read
from ``--enable-logging=stderr`` (each message is a ``CONSOLE`` line, an uncaught exception
an ``Uncaught ...`` one), and the requests it made from ``--log-net-log``: a request the page
started has an initiator (``null`` for a file page), while Chromium's own background requests
(clock sync, sign-in) have "not an origin" and are not the page's.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
INSTALL = Path(__file__).resolve().parents[3] / "infra" / "chromium.sh"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


@dataclass
class Rendered:
    dom: str  # the DOM after the page's scripts ran
    console: list[str]  # CONSOLE and Uncaught lines of Chromium's log
    requests: list[str]  # URLs the page requested (file: URLs excluded)


def chromium() -> str:
    """The Chromium binary, installed by infra/chromium.sh if missing; skips with its reason."""
    if not Path(CHROMIUM).exists() and INSTALL.is_file():
        done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True,
                              timeout=900, check=False)
        if not Path(CHROMIUM).exists():
            reason = (done.stderr or done.stdout).strip() or "infra/chromium.sh did not install it"
            print(f"chromium unavailable: {reason}")
            pytest.skip(f"headless Chromium is not available: {reason}")
    return CHROMIUM if Path(CHROMIUM).exists() else (shutil.which("chromium") or CHROMIUM)


def render(page: Path, work: Path, fragment: str = "") -> Rendered:
    """Load ``page`` (with ``#fragment``) headless, let its scripts run, and return its DOM,
    console and requests."""
    work.mkdir(parents=True, exist_ok=True)
    name = f"{page.stem}-{abs(hash(fragment))}" if fragment else page.stem
    profile, net_log = work / f"profile-{name}", work / f"net-{name}.json"
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         f"--log-net-log={net_log}", "--net-log-capture-mode=Everything",
         "--virtual-time-budget=3000", "--dump-dom",
         page.resolve().as_uri() + (f"#{fragment}" if fragment else "")],
        capture_output=True, text=True, timeout=120, check=True,
    )
    console = [line for line in done.stderr.splitlines()
               if ":CONSOLE" in line or "Uncaught" in line]
    return Rendered(dom=done.stdout, console=console, requests=page_requests(net_log))


def page_requests(net_log: Path) -> list[str]:
    """The URLs of the requests a page (not Chromium itself) made, from a net log."""
    log = json.loads(net_log.read_text())
    names = {value: key for key, value in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if names.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        initiator = params.get("initiator", "")
        by_page = initiator != "not an origin" or "file://" in params.get(
            "network_isolation_key", "")
        if by_page and not params["url"].startswith("file:"):
            urls.append(params["url"])
    return urls


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 1800) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={png.parent / ('profile-shot-' + png.stem)}",
         f"--window-size={width},{height}", "--virtual-time-budget=3000",
         f"--screenshot={png}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return png


URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


def remote_references(html: str) -> list[str]:
    """``src``/``href`` attributes (and CSS ``url()``) that point off the machine."""
    found = [m.group(0) for m in URL_ATTRIBUTE.finditer(html)]
    found += re.findall(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", html, re.IGNORECASE)
    found += re.findall(r"@import", html)
    return found
