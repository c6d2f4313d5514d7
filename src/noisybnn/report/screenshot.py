"""A PNG of the rendered page, with headless Chromium: to check the report as a person sees it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

#: Browser executables tried in order.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1300,
               height: int = 4000, timeout_s: float = 120.0) -> Path | None:
    """Render `html_path` headless and save the top `width` x `height` pixels to `png_path`.

    Returns the PNG path, or None (with a warning) when no Chromium is installed or it fails
    (install it with `apt-get install chromium`). Nothing is fetched from the network: the
    browser runs with background networking, sync and component updates off.
    """
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"{html_path} not found; write the report first")
    browser = find_browser()
    if browser is None:
        warnings.warn("no Chromium found (apt-get install chromium): no screenshot taken",
                      stacklevel=2)
        return None
    png = Path(png_path).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="noisybnn-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
               f"--window-size={int(width)},{int(height)}", f"--screenshot={png}",
               html_path.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            warnings.warn(f"chromium failed ({exc}): no screenshot taken", stacklevel=2)
            return None
    if not png.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        warnings.warn(f"chromium exited {proc.returncode} without a screenshot: {tail}",
                      stacklevel=2)
        return None
    return png
