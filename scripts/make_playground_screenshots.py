"""Regenerate the playground's screenshots in docs/screenshots/ from a real server and Chromium.

    python scripts/make_playground_screenshots.py            # rewrites docs/screenshots/playground-*.png
    python scripts/make_playground_screenshots.py --out DIR  # writes them to DIR instead (the tests do this)

They are screenshots of the page, not figures drawn by a docs page's code, so they live apart
from docs/figures/ (which scripts/make_figures.py regenerates). The server is started on a free
port of 127.0.0.1 and Debian's Chromium is driven by Playwright, as in the tests.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
NAMES = ("playground-circuits.png", "playground-networks.png")


def shoot(browser, url: str, out: Path) -> list:
    """Take both screenshots with ``browser`` from the server at ``url``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1600, "height": 820})
    try:
        # the sigmoid neuron, three gates into the backward pass
        page.goto(url + "#view=circuits")
        page.wait_for_selector("#gradients li")
        page.select_option("#preset", "sigmoid")
        page.wait_for_function("document.querySelector('#output').textContent === 'f = 0.73'")
        for _ in range(3):
            page.click("#step")
        page.screenshot(path=str(out / NAMES[0]))
        # a spiral learnt by a 2-8-8-1 network, with a race of four strategies below
        page.goto(url + "#view=networks&dataset=spiral&noise=10&hidden=8,8&optimizer=adam&lr=0.03")
        page.wait_for_function("window.playground.lastUpdate !== undefined")
        page.click("#play")
        page.wait_for_function("window.playground.lastUpdate.epoch >= 150", timeout=60000)
        page.click("#play")
        page.fill("#budget", "300")
        page.click("#race")
        page.wait_for_function("window.playground.raceDone === true", timeout=60000)
        time.sleep(0.2)
        page.screenshot(path=str(out / NAMES[1]), full_page=True)
    finally:
        page.close()
    return [out / n for n in NAMES]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the screenshots (default: docs/screenshots)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from chainrule.playground import start

    with start() as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for path in shoot(browser, server.url, args.out):
                print(f"wrote {path}")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
