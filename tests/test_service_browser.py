"""The page in a real headless Chromium (Debian's, through Playwright; never a downloaded browser).

Every request that is not to the test server on 127.0.0.1 is blocked, so the
page is shown to work offline (no CDN). Skips when /usr/bin/chromium is
missing, except in CI (CI set), where that is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, List

import pytest

pytest.importorskip("fastapi")

from service_support import Server  # noqa: E402

CHROMIUM = os.environ.get("PAINTERLY_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); the browser test needs a local Chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("serve-page") / "data", "--workers", "1", "--threads", "1").start()
    yield srv
    srv.kill()


def _offline_page(browser: Any, server: Server, problems: List[str], **options: Any) -> Any:
    page = browser.new_page(**options)
    page.set_default_timeout(45_000)

    def only_local(route: Any) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            problems.append("blocked request to " + route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    def console(msg: Any) -> None:
        # The 422 of the deliberately bad request is logged by Chromium itself; anything else is a fault.
        if msg.type == "error" and "status of 422" not in msg.text:
            problems.append(f"console: {msg.text}")

    page.on("console", console)
    return page


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled astronaut photo at 192 px: big enough to see in the screenshot, cheap to paint."""
    from PIL import Image

    path = tmp_path_factory.mktemp("page-photo") / "astronaut.png"
    with Image.open(Path(__file__).resolve().parents[1] / "src/painterly/data/astronaut.jpg") as img:
        img.convert("RGB").resize((192, 192), Image.Resampling.LANCZOS).save(path)
    return path


def test_paint_cancel_and_history_in_a_real_browser(browser: Any, server: Server, photo_path: Path,
                                                     style_path: Path) -> None:
    problems: List[str] = []
    page = _offline_page(browser, server, problems, viewport={"width": 1200, "height": 900})
    page.goto(server.url + "/")
    page.wait_for_function("() => document.querySelectorAll('#gallery button').length >= 8")
    # Every gallery sample is painted and shown.
    page.wait_for_function("() => [...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)")

    # A photo dropped on the drop zone is taken (then replaced by one picked with the file chooser).
    transfer = page.evaluate_handle("""async () => {
        const blob = await (await fetch('/api/models/wave/sample')).blob();
        const data = new DataTransfer();
        data.items.add(new File([blob], 'dropped.jpg', { type: 'image/jpeg' }));
        return data;
    }""")
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    assert "dropped.jpg" in page.inner_text("#drop-text")

    # A bad setting: the server's message is shown in the page.
    page.set_input_files("#photo", str(photo_path))
    assert page.is_visible("#photo-preview")
    page.click("#gallery button[data-model='wave']")
    page.fill("#cfg-size", "5")
    page.click("#paint")
    page.wait_for_selector("#error:not([hidden])")
    assert "size must be" in page.inner_text("#error")

    # Paint with a bundled style; keyboard moves the selection in the gallery.
    order = page.eval_on_selector_all("#gallery button", "els => els.map(e => e.dataset.model)")
    start = order.index("wave")
    page.focus("#gallery button[data-model='wave']")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute(f"#gallery button[data-model='{order[start - 1]}']", "aria-checked") == "true"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute(f"#gallery button[data-model='{order[start - 3]}']", "aria-checked") == "true"
    assert page.get_attribute("#gallery button[data-model='wave']", "aria-checked") == "false"
    page.fill("#cfg-size", "160")
    page.click("#paint")
    page.wait_for_selector("#result:not([hidden])")
    page.wait_for_function("() => document.getElementById('after').complete && document.getElementById('after').naturalWidth > 0")
    assert page.evaluate("document.getElementById('after').naturalWidth") == 160
    assert page.evaluate("document.getElementById('bar').value") == 1
    assert "format=png" in page.get_attribute("#dl-png", "href")
    # Before/after: the two pictures lie exactly on top of each other; the slider moves the cut.
    boxes = page.evaluate("() => ['before', 'after'].map(id => { const r = document.getElementById(id)"
                          ".getBoundingClientRect(); return [r.x, r.y, r.width, r.height].map(Math.round); })")
    assert boxes[0] == boxes[1] and boxes[0][2] > 100
    page.focus("#slider")
    page.keyboard.press("End")
    clip = page.evaluate("document.getElementById('after-clip').style.clipPath")
    assert clip.replace("px", "") == "inset(0 0% 0 0)"  # all painting
    assert page.is_hidden("#error")
    if os.environ.get("PAINTERLY_SCREENSHOT"):  # docs/images/serve.png is made this way
        page.wait_for_function("() => [...document.querySelectorAll('#history img')].every(i => i.complete && i.naturalWidth > 0)")
        _screenshot(page, Path(os.environ["PAINTERLY_SCREENSHOT"]))

    # Optimization: the picture updates while it paints, and cancel stops it.
    page.check("input[name=method][value=transfer]")
    page.set_input_files("#style-transfer", str(style_path))
    page.fill("#cfg-size", "64")
    page.fill("#cfg-iterations", "5000")
    page.click("#paint")
    page.wait_for_function("() => /%/.test(document.getElementById('progress-text').textContent)")
    page.wait_for_selector("#live:not([hidden])")
    page.click("#cancel")
    page.wait_for_function("() => document.getElementById('h-job').textContent === 'Cancelled'")

    # Reload: the history is still there, newest first, with thumbnails; a job can be deleted.
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#history li').length === 2")
    page.wait_for_function("() => [...document.querySelectorAll('#history img')].every(i => i.complete && i.naturalWidth > 0)")
    statuses = page.eval_on_selector_all("#history li .row span", "els => els.map(e => e.textContent)")
    assert statuses == ["cancelled", "done"]
    page.click("#history li:nth-child(2) .open")
    page.wait_for_selector("#result:not([hidden])")
    page.click("#history li:nth-child(2) .del")
    page.wait_for_function("() => document.querySelectorAll('#history li').length === 1")
    assert problems == []
    page.close()


def _screenshot(page: Any, path: Path) -> None:
    """The page as a 256-colour PNG (a few hundred KB instead of a megabyte)."""
    import io

    from PIL import Image

    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    shot.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def test_page_fits_a_phone(browser: Any, server: Server) -> None:
    problems: List[str] = []
    page = _offline_page(browser, server, problems, viewport={"width": 390, "height": 844}, has_touch=True,
                         is_mobile=True)
    page.goto(server.url + "/")
    page.wait_for_function("() => document.querySelectorAll('#gallery button').length >= 8")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    height = page.evaluate("document.getElementById('paint').getBoundingClientRect().height")
    assert height >= 44  # a comfortable touch target
    assert problems == []
    page.close()
