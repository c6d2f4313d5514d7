"""A PNG of the rendered page, with headless Chromium: to check the report as a person sees it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from noisybnn.errors import MissingInputError

#: Browser executables tried in order.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


#: Tallest screenshot taken when the page height is measured (pixels).
MAX_HEIGHT = 30000


def _run(browser: str, args: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="noisybnn-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)


def page_height(html_path: Path, width: int, browser: str, timeout_s: float = 60.0) -> int | None:
    """Height in pixels of the laid-out page at `width`, or None if it cannot be measured.

    The page itself has no script: a temporary copy next to it (so relative images resolve) gets
    one line that writes the height into the title, and Chromium's --dump-dom reads it back.
    """
    copy = html_path.with_name(f".measure-{os.getpid()}-{html_path.name}")
    probe = "<script>document.title=String(document.documentElement.scrollHeight)</script>"
    text = html_path.read_text(encoding="utf-8", errors="replace")
    copy.write_text(text.replace("</body>", probe + "</body>") if "</body>" in text
                    else text + probe, encoding="utf-8")
    try:
        proc = _run(browser, [f"--window-size={int(width)},800", "--dump-dom", copy.as_uri()],
                    timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        copy.unlink(missing_ok=True)
    m = re.search(r"<title>(\d+)</title>", proc.stdout or "")
    return int(m.group(1)) if m else None


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1300,
               height: int | None = None, timeout_s: float = 120.0) -> Path | None:
    """Render `html_path` headless and save it as a `width`-pixel-wide PNG at `png_path`.

    Args:
        html_path: the page (e.g. the report's index.html).
        png_path: where the PNG goes.
        width: window width in pixels.
        height: window height in pixels; None measures the page and takes all of it (up to
            :data:`MAX_HEIGHT`), falling back to 4000.
        timeout_s: limit per Chromium run.

    Returns:
        The PNG path, or None (with a warning) when no Chromium is installed or it fails
        (install it with `apt-get install chromium`). Nothing is fetched from the network: the
        browser runs with background networking, sync and component updates off.
    """
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise MissingInputError(f"{html_path} not found; write the report first")
    browser = find_browser()
    if browser is None:
        warnings.warn("no Chromium found (apt-get install chromium): no screenshot taken",
                      stacklevel=2)
        return None
    if height is None:
        measured = page_height(html_path, width, browser, timeout_s)
        height = min(MAX_HEIGHT, measured + 16) if measured else 4000
    png = Path(png_path).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    try:
        proc = _run(browser, [f"--window-size={int(width)},{int(height)}",
                              f"--screenshot={png}", html_path.as_uri()], timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        warnings.warn(f"chromium failed ({exc}): no screenshot taken", stacklevel=2)
        return None
    if not png.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        warnings.warn(f"chromium exited {proc.returncode} without a screenshot: {tail}",
                      stacklevel=2)
        return None
    return png
