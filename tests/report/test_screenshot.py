"""The headless-Chromium screenshot used to check the report as a person sees it."""

from __future__ import annotations

import pytest
from matplotlib.image import imread

from noisybnn.report import screenshot
from noisybnn.report.browser import find_browser


def test_without_a_browser_it_warns_and_returns_none(tmp_path, monkeypatch):
    import noisybnn.report.browser as mod

    page = tmp_path / "p.html"
    page.write_text("<p>hi</p>")
    monkeypatch.setattr(mod, "find_browser", lambda: None)
    with pytest.warns(UserWarning, match="no Chromium"):
        assert mod.screenshot(page, tmp_path / "p.png") is None


def test_missing_page_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        screenshot(tmp_path / "nope.html", tmp_path / "p.png")


@pytest.mark.skipif(find_browser() is None, reason="no chromium (apt-get install chromium)")
def test_renders_the_page(tmp_path):
    page = tmp_path / "p.html"
    page.write_text('<body style="margin:0;background:#ff0000"><div style="height:100px;'
                    'background:#0000ff"></div></body>')
    png = screenshot(page, tmp_path / "shot.png", width=400, height=300)
    assert png is not None and png.is_file()
    pixels = imread(png)
    assert pixels.shape[:2] == (300, 400)
    assert pixels[50, 200, 2] > 0.9 and pixels[50, 200, 0] < 0.1   # blue band on top
    assert pixels[250, 200, 0] > 0.9 and pixels[250, 200, 2] < 0.1  # red page below


@pytest.mark.skipif(find_browser() is None, reason="no chromium (apt-get install chromium)")
def test_height_defaults_to_the_whole_page(tmp_path):
    page = tmp_path / "tall.html"
    page.write_text('<body style="margin:0"><div style="height:2500px;background:#00ff00">'
                    "</div></body>")
    png = screenshot(page, tmp_path / "tall.png", width=300)
    assert 2500 <= imread(png).shape[0] <= 2600
    assert not list(tmp_path.glob(".measure-*"))  # the measuring copy is gone
