"""The demo's logs in a real browser: headless Chromium on a real `tensorboard` server.

Each test opens one dashboard the way a person does (``http://127.0.0.1:PORT/#<plugin>``),
waits for what TensorBoard renders from the demo's data (chart lines, loaded images and
audio, table rows, graph nodes, projector points), checks the runs and tags it shows, and
saves a screenshot. With TBLOG_SCREENSHOTS=<dir> the screenshots are also copied there
(docs/screenshots/ holds the set the README shows).

The browser is Debian's ``chromium`` (/usr/bin/chromium, or $TBLOG_CHROMIUM), driven by
Playwright, which is told to use it: nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import TensorBoardServer, tensorboard_servers
from test_demo import run_demo

from tblog.demo import Config

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard, pytest.mark.slow]

CHROMIUM = os.environ.get("TBLOG_CHROMIUM", "/usr/bin/chromium")
DASHBOARDS = ["scalars", "histograms", "distributions", "images", "audio", "text", "pr_curves",
              "hparams", "graphs", "projector"]  # fmt: skip
VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_MS = 60_000  # for each wait on the page; a loaded 2-core machine renders slowly

# Root in a container needs --no-sandbox. Without a GPU, SwiftShader (software rendering)
# gives the Projector the WebGL it draws its points with. The rest keeps Chromium quiet and
# off the network. Playwright gives every launch a fresh profile (its own --user-data-dir).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The text of an element as rendered, shadow roots included (innerText stops at them, and
# TensorBoard's dashboards are Polymer elements, each in its own shadow root).
DEEP_TEXT_JS = """el => {
  const out = [];
  const walk = (n) => {
    if (n.nodeType === Node.TEXT_NODE) { out.push(n.textContent); return; }
    if (n.nodeName === 'STYLE' || n.nodeName === 'SCRIPT') return;
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const child of n.childNodes) walk(child);
  };
  walk(el);
  return out.join(' ').replace(/\\s+/g, ' ').trim();
}"""


def deep_text(locator: Any) -> str:
    return str(locator.evaluate(DEEP_TEXT_JS))


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT_MS / 1000) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"the browser never showed {what} (last check: {result!r})")
        time.sleep(0.25)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary; its absence fails the run where every dependency must be present."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = (
        f"no Chromium at {CHROMIUM}: `apt-get install chromium` (tests/run.sh's main job does), "
        "or point TBLOG_CHROMIUM at a Chromium binary"
    )
    if os.environ.get("TBLOG_NO_IMPORT_SKIPS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def demo_logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One default demo run, as a user makes it."""
    logdir = tmp_path_factory.mktemp("browser") / "runs" / "demo"
    proc = run_demo(logdir.parent.parent, "--logdir", str(logdir))
    assert proc.returncode == 0, proc.stderr
    return logdir


@pytest.fixture(scope="module")
def server(demo_logdir: Path) -> Iterator[TensorBoardServer]:
    """A real tensorboard over the demo's logdir, with every dashboard this module opens active."""
    with tensorboard_servers() as start:
        # A relative --logdir, as the demo tells people to type: the screenshots show "runs/demo".
        tb = start(demo_logdir.relative_to(demo_logdir.parent.parent), cwd=demo_logdir.parent.parent)
        # The projector decides it is active on a background thread: give it time.
        wait_for(
            "every dashboard active in /data/plugins_listing",
            lambda: all(tb("/data/plugins_listing")[name]["enabled"] for name in DASHBOARDS),
        )
        yield tb


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """Headless Chromium, shared by the module's tests (each gets its own context)."""
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS, timeout=TIMEOUT_MS
        )
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's screenshots go (and stay, for a look after a failure)."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def open_dashboard(browser: Any, server: TensorBoardServer) -> Iterator[Callable[[str], Any]]:
    """``page = open_dashboard("scalars")``: a fresh page, in a fresh context, on that dashboard."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)

    def open_(name: str) -> Any:
        page = context.new_page()
        page.goto(f"{server.url}/#{name}")
        return page

    yield open_
    context.close()


def save_screenshot(page: Any, name: str, screenshot_dir: Path) -> Path:
    """The page as it looks now (after a test's checks passed) as ``<tmp>/screenshots/<name>.png``.

    Also copied into $TBLOG_SCREENSHOTS when that is set.
    """
    path = screenshot_dir / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    assert path.stat().st_size > 10_000, f"{path} is too small to show a dashboard"
    copy_to = os.environ.get("TBLOG_SCREENSHOTS")
    if copy_to:
        Path(copy_to).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(copy_to) / path.name)
    return path


def tags_of(server: TensorBoardServer, plugin: str, run: str = ".") -> list[str]:
    """The tags tensorboard's data API lists for ``run`` on ``plugin`` (what the page must show)."""
    tags = sorted(server(f"/data/plugin/{plugin}/tags")[run])
    assert tags, f"the server lists no {plugin} tags for run {run!r}"
    return tags


def check_runs_listed(dashboard: Any, runs: list[str]) -> None:
    """The dashboard's run selector names every run."""
    selector = dashboard.locator("tf-runs-selector")
    wait_for(f"runs {runs}", lambda: all(run in deep_text(selector).split() for run in runs))


def cards_by_tag(cards: Any, tags: list[str], what: str) -> dict[str, Any]:
    """Wait until one card per tag is on the page; ``{tag: card}`` (a card names its tag)."""
    wait_for(f"{len(tags)} {what} cards", lambda: cards.count() == len(tags))
    found: dict[str, Any] = {}
    for i in range(cards.count()):
        # "<tag> <run> ..." or, where TensorBoard shortens the title, "<name> tag: <tag> ..."
        words = deep_text(cards.nth(i).locator("tf-card-heading").first).split()
        tag = words[words.index("tag:") + 1] if "tag:" in words else words[0]
        found[tag] = cards.nth(i)
    assert sorted(found) == tags, f"{what} cards show {sorted(found)}, the data has {tags}"
    return found


def nonempty_paths(card: Any, selector: str) -> int:
    """How many SVG paths matching ``selector`` in ``card`` have drawn something."""
    return int(card.locator(selector).evaluate_all("ps => ps.filter(p => p.getAttribute('d')).length"))


# --------------------------------------------------------------------------- dashboards


def test_scalars_dashboard(
    open_dashboard: Callable[[str], Any], server: TensorBoardServer, screenshot_dir: Path
) -> None:
    """Scalars: a chart with a drawn line for every scalar tag of every run, all three runs listed."""
    page = open_dashboard("scalars")
    dashboard = page.locator("tf-scalar-dashboard")
    tags = sorted({tag for run in server("/data/plugin/scalars/tags").values() for tag in run})
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "loss"} <= set(tags)
    check_runs_listed(dashboard, [".", "loss_train", "loss_val"])
    # TensorBoard opens the first categories (tag prefixes) only; a person clicks the rest open.
    dashboard.locator("tf-scalar-card").first.wait_for()
    categories = dashboard.locator("tf-category-paginated-view")
    for i in range(categories.count()):
        category = categories.nth(i)
        if category.is_visible() and not category.evaluate("view => view.opened"):
            category.locator("button.heading").click()
    cards = cards_by_tag(dashboard.locator("tf-scalar-card"), tags, "scalar")
    for tag, card in cards.items():
        wait_for(f"a line on the {tag} chart", lambda card=card: nonempty_paths(card, "path.line"))
    # add_scalars("loss", {train, val}): one chart, a line for each sub-run (raw and smoothed).
    assert nonempty_paths(cards["loss"], "path.line") >= 2
    # The tag filter gathers the losses and accuracies of every run on one screen.
    search = dashboard.locator("tf-tag-filterer input")
    search.fill("loss|accuracy")
    dashboard.locator("tf-tag-filterer").scroll_into_view_if_needed()
    found = dashboard.locator("tf-category-paginated-view").first.locator("tf-scalar-card")
    wanted = [t for t in tags if "loss" in t or "accuracy" in t]
    cards_by_tag(found, wanted, "filtered scalar")
    page.wait_for_timeout(1000)  # the charts of the filtered view draw after they are placed
    save_screenshot(page, "scalars", screenshot_dir)


def test_histograms_dashboard(
    open_dashboard: Callable[[str], Any], server: TensorBoardServer, screenshot_dir: Path
) -> None:
    """Histograms: a card per parameter, with one drawn histogram per logged step."""
    page = open_dashboard("histograms")
    dashboard = page.locator("tf-histogram-dashboard")
    tags = tags_of(server, "histograms")
    assert "params/w1" in tags
    check_runs_listed(dashboard, ["."])
    cards = cards_by_tag(dashboard.locator("tf-histogram-loader"), tags, "histogram")
    for tag, card in cards.items():
        steps = len(server(f"/data/plugin/histograms/histograms?run=.&tag={tag}"))
        assert steps > 1
        wait_for(
            f"{steps} histograms on the {tag} card",
            lambda card=card, steps=steps: card.locator("g.histogram path.outline").count() == steps,
        )
    save_screenshot(page, "histograms", screenshot_dir)


def test_distributions_dashboard(
    open_dashboard: Callable[[str], Any], server: TensorBoardServer, screenshot_dir: Path
) -> None:
    """Distributions: a card per parameter with its percentile bands drawn over the steps."""
    page = open_dashboard("distributions")
    dashboard = page.locator("tf-distribution-dashboard")
    tags = tags_of(server, "distributions")
    check_runs_listed(dashboard, ["."])
    cards = cards_by_tag(dashboard.locator("tf-distribution-loader"), tags, "distribution")
    for tag, card in cards.items():
        # Bands between the 9 basis-point percentiles TensorBoard compresses a histogram to.
        wait_for(
            f"percentile bands on the {tag} card", lambda card=card: nonempty_paths(card, "path.area") >= 4
        )
    save_screenshot(page, "distributions", screenshot_dir)


def test_images_dashboard(
    open_dashboard: Callable[[str], Any], server: TensorBoardServer, screenshot_dir: Path
) -> None:
    """Images: the decision-boundary image and the video's frame load, 96x96, at the last step."""
    page = open_dashboard("images")
    dashboard = page.locator("tf-image-dashboard")
    tags = tags_of(server, "images")
    assert tags == ["boundary", "boundary_over_time"]
    check_runs_listed(dashboard, ["."])
    last_step = max(e["step"] for e in server("/data/plugin/images/images?run=.&tag=boundary"))
    cards = cards_by_tag(dashboard.locator("tf-image-loader"), tags, "image")
    for tag, card in cards.items():
        image = card.locator("img")
        size = wait_for(
            f"the {tag} image decoded",
            lambda image=image: image.evaluate("i => i.complete && [i.naturalWidth, i.naturalHeight]"),
        )
        assert size == [96, 96], tag  # tblog.demo.decision_image's size
        box = image.bounding_box()
        assert box is not None and box["width"] > 50 and box["height"] > 50, (tag, box)
        assert f"step {last_step}" in deep_text(card), tag
    save_screenshot(page, "images", screenshot_dir)


def test_audio_dashboard(
    open_dashboard: Callable[[str], Any], server: TensorBoardServer, screenshot_dir: Path
) -> None:
    """Audio: the loss-as-sound clip loads in an <audio> player and lasts its one second."""
    page = open_dashboard("audio")
    dashboard = page.locator("tf-audio-dashboard")
    tags = tags_of(server, "audio")
    assert tags == ["loss_as_sound"]
    check_runs_listed(dashboard, ["."])
    (card,) = cards_by_tag(dashboard.locator("tf-audio-loader"), tags, "audio").values()
    audio = card.locator("audio")
    duration = wait_for(
        "the clip's metadata loaded",  # readyState >= HAVE_METADATA: the WAV header was decoded
        lambda: audio.evaluate("a => a.readyState >= 1 && a.duration"),
    )
    assert duration == pytest.approx(1.0, abs=1e-3)  # the demo writes 16,000 samples at 16 kHz
    save_screenshot(page, "audio", screenshot_dir)


def test_text_dashboard(
    open_dashboard: Callable[[str], Any], server: TensorBoardServer, screenshot_dir: Path
) -> None:
    """Text: the config's markdown renders as an HTML table, a row per setting; the summary shows."""
    page = open_dashboard("text")
    dashboard = page.locator("tf-text-dashboard")
    tags = tags_of(server, "text")
    assert tags == ["config/text_summary", "summary/text_summary"]
    check_runs_listed(dashboard, ["."])
    cards = cards_by_tag(dashboard.locator("tf-text-loader"), tags, "text")
    settings = [f.name for f in fields(Config)]
    # The markdown's table, inside the one TensorBoard wraps every text value in.
    rows = cards["config/text_summary"].locator("table:not(:has(table)) tr")
    wait_for("the config table", lambda: rows.count() == 1 + len(settings))
    cells = [deep_text(rows.nth(i)).split() for i in range(rows.count())]
    assert cells[0] == ["setting", "value"]
    assert {row[0] for row in cells[1:]} == set(settings)
    assert ["learning_rate", "0.5"] in cells
    assert "validation loss" in deep_text(cards["summary/text_summary"])
    save_screenshot(page, "text", screenshot_dir)


def test_pr_curves_dashboard(
    open_dashboard: Callable[[str], Any], server: TensorBoardServer, screenshot_dir: Path
) -> None:
    """PR Curves: the validation curve is drawn, at the last logged step."""
    page = open_dashboard("pr_curves")
    dashboard = page.locator("tf-pr-curve-dashboard")
    tags = tags_of(server, "pr_curves")
    assert tags == ["val/pr"]
    check_runs_listed(dashboard, ["."])
    (card,) = cards_by_tag(dashboard.locator("tf-pr-curve-card"), tags, "PR curve").values()
    wait_for("the PR curve drawn", lambda: nonempty_paths(card, "path.line"))
    last_step = server("/data/plugin/pr_curves/pr_curves?run=.&tag=val/pr")["."][-1]["step"]
    assert f"is at step {last_step}" in deep_text(card)
    save_screenshot(page, "pr_curves", screenshot_dir)


def test_hparams_dashboard(
    open_dashboard: Callable[[str], Any], server: TensorBoardServer, screenshot_dir: Path
) -> None:
    """HParams: the table has a column per hyperparameter and metric and a row with this run's values."""
    page = open_dashboard("hparams")
    grid = page.locator("tf-hparams-dashboard tf-hparams-table-view vaadin-grid")
    cells = grid.locator("vaadin-grid-cell-content")
    wait_for("a session row", lambda: "." in cells.evaluate_all("cs => cs.map(c => c.textContent.trim())"))
    texts = [t for t in cells.evaluate_all("cs => cs.map(c => c.textContent.trim())") if t]
    # The first hparams are ticked for display; the rest are one click away in the side pane.
    for column in ["Trial ID", "batch_size", "learning_rate", "val/loss", "val/accuracy", "hparam/seconds"]:
        assert column in texts, (column, texts)
    row = texts[texts.index(".") :]
    final = server("/data/plugin/scalars/scalars?run=.&tag=val/accuracy")[-1][2]
    # The table shows 5 significant digits: 64 -> "64.000", 0.5 -> "0.50000".
    for value in (64, 0.5, 0.9, final):
        assert f"{value:#.5g}" in row, (value, row)
    save_screenshot(page, "hparams", screenshot_dir)


def test_graphs_dashboard(open_dashboard: Callable[[str], Any], screenshot_dir: Path) -> None:
    """Graphs: the MLP's graph renders as SVG nodes and edges; opening it shows its ops."""
    page = open_dashboard("graphs")
    scene = page.locator("tf-graph-dashboard tf-graph-scene")

    def rendered() -> list[str]:
        return list(scene.locator("g.node").evaluate_all("ns => ns.map(n => n.dataset.name)"))

    wait_for("the top-level nodes", lambda: {"input", "MLP", "output"} <= set(rendered()))
    assert scene.locator("g.edge").count() >= 2
    # Double-click opens a name scope, as a person explores the graph.
    for scope in ("MLP", "MLP/hidden", "MLP/output"):
        scene.locator(f'g.node[data-name="{scope}"]').dblclick()
        wait_for(f"{scope} opened", lambda scope=scope: any(n.startswith(scope + "/") for n in rendered()))
    ops = {"MLP/hidden/matmul", "MLP/hidden/tanh", "MLP/output/matmul", "MLP/output/sigmoid"}
    assert ops <= set(rendered())
    page.locator("tf-graph-dashboard").get_by_text("Fit to screen").click()
    page.wait_for_timeout(3000)  # opening and fitting animate the edges; let them settle
    save_screenshot(page, "graphs", screenshot_dir)


def test_projector_dashboard(open_dashboard: Callable[[str], Any], screenshot_dir: Path) -> None:
    """Projector: the embedding loads (300 points, 64 dimensions) and WebGL draws its points."""
    from PIL import Image

    page = open_dashboard("projector")
    # The projector is the one dashboard TensorBoard loads in an iframe (holding another).
    frame = page.frame_locator("iframe").frame_locator("iframe")
    projector = frame.locator("vz-projector")
    n_val = int(Config.samples * Config.val_fraction)
    status = f"Points: {n_val} Dimension: {Config.hidden}"
    wait_for(status, lambda: status in deep_text(projector))
    assert "hidden_layer" in deep_text(projector)
    canvas = projector.locator("canvas").first
    # The points are the demo's sprite thumbnails: red for one arm, blue for the other.
    # Counting those pixels proves WebGL drew them, which a blank canvas would not.

    def colored_pixels() -> tuple[int, int]:
        rgb = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        return int(((r > 200) & (g < 80) & (b < 80)).sum()), int(((b > 200) & (r < 80) & (g < 80)).sum())

    wait_for("red and blue points drawn", lambda: min(colored_pixels()) > 1000)
    save_screenshot(page, "projector", screenshot_dir)
