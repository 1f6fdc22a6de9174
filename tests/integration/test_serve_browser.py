"""The web app in a real browser: Debian's headless Chromium driven by Playwright.

Skips (with the package to install) where /usr/bin/chromium is missing; .ci/run installs it.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from animegan.inference.postprocess import mean_luma
from animegan.models import Generator, export_state_dict

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).is_file(),
        reason="needs Debian's chromium: apt-get install chromium chromium-driver",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gradio_is_modern() -> None:
    gradio = pytest.importorskip("gradio")
    assert int(gradio.__version__.split(".")[0]) >= 6


def test_upload_photo_and_text_file_in_chromium(tmp_path: Path) -> None:
    pytest.importorskip("gradio")
    playwright_api = pytest.importorskip("playwright.sync_api")
    from animegan.serve import ServeConfig, build_app

    torch.manual_seed(0)
    weights_dir = tmp_path / "weights"
    export_state_dict(Generator(), weights_dir / "random.pt")
    photo = tmp_path / "photo.png"
    yy, xx = np.mgrid[0:72, 0:96]
    Image.fromarray(np.stack([xx * 2, yy * 3, np.full_like(xx, 128)], -1).astype(np.uint8)).save(
        photo
    )
    text = tmp_path / "notes.txt"
    text.write_text("not a photo\n")
    config = ServeConfig(weights_dir=weights_dir, max_side=0, threads=1)
    page_app, launch_kwargs = build_app(config)
    port = free_port()
    page_app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                    quiet=True, **launch_kwargs)  # fmt: skip
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            page.screenshot(path=str(tmp_path / "0_loaded.png"), full_page=True)
            page.locator("input[type=file]").first.set_input_files(str(photo))
            page.wait_for_timeout(1000)
            page.get_by_text("Post-processing").click()  # opens the accordion
            brightness = page.get_by_label("Match the photo's brightness")
            brightness.check()
            assert brightness.is_checked()
            page.locator("#stylize").click()
            result = page.locator("#output-image img")
            result.wait_for(state="visible", timeout=60_000)
            page.get_by_text("Done.").wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "1_photo_done.png"), full_page=True)
            src = result.get_attribute("src")
            response = page.request.get(src if src.startswith("http") else
                                        f"http://127.0.0.1:{port}{src}")  # fmt: skip
            assert response.ok
            out = tmp_path / "result.png"
            out.write_bytes(response.body())
            stylized = np.asarray(Image.open(out).convert("RGB"))
            original = np.asarray(Image.open(photo).convert("RGB"))
            assert stylized.shape == original.shape
            assert np.abs(stylized.astype(int) - original).mean() > 5
            # The brightness box was ticked: the result has the photo's mean luma.
            assert abs(mean_luma(stylized) - mean_luma(original)) < 1.0

            page.reload(wait_until="networkidle")  # a fresh page: the File box is empty again
            page.locator("input[type=file]").first.set_input_files(str(text))
            page.wait_for_timeout(1000)
            page.locator("#stylize").click()
            message = page.get_by_text("is not a photo or video this app can read")
            try:
                message.first.wait_for(timeout=30_000)
            finally:
                page.screenshot(path=str(tmp_path / "2_text_error.png"), full_page=True)
            # The line stays in the status box (the toast fades), and no panel shows a result.
            status = page.locator("#status").inner_text()
            assert "Error:" in status and "is not a photo or video this app can read" in status
            assert page.locator("#output-image img").count() == 0
            body = page.inner_text("body")
            assert "Traceback" not in body
            browser.close()
    finally:
        page_app.close()
    for name in ("0_loaded.png", "1_photo_done.png", "2_text_error.png"):
        assert (tmp_path / name).stat().st_size > 0
    print(f"screenshots in {tmp_path}")
