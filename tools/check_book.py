"""Read the built book as a reader does: every page in headless Chromium, with no network.

    python tools/check_book.py [_build/html]      # after `make book`; exit status 1 on a problem

The HTML folder is served on 127.0.0.1 and every page is opened in Chromium (driven by
Playwright) with every request to any other address blocked, so what passes here reads offline.
On each page it checks what a reader sees:

- **math**: every formula that Sphinx wrote (elements of class ``math``) holds a typeset MathJax
  ``mjx-container``; MathJax reported no error and no undefined macro; no raw TeX (``\\(``,
  ``\\[``, ``$$``, ``\\begin{``) is left in the text outside code;
- **images and fonts**: every ``<img>`` loaded (``naturalWidth > 0``), no web font (MathJax's
  included) failed to load;
- **launch buttons**: a page built from a notebook has its Colab and Binder launch links;
- **links**: every link to a page of the book answers 200, and its ``#anchor`` exists there;
- **console**: no error in the console, no uncaught exception, no failed request to the book.

Requests the page makes to other addresses are blocked and count as problems, except the
scripts listed in :data:`ONLINE_ONLY` (they draw the ipywidgets; offline the widget is simply
absent). A screenshot of every page goes to ``_build/screenshots/`` (or ``--screenshots``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlparse

ROOT = Path(__file__).resolve().parent.parent
COLUMN_PX = 640  # wisetut.outputs.COLUMN_PX (this tool runs without the package installed)
HOST = "127.0.0.1"
# Scripts that only an online reader can load: MyST-NB's loaders for ipywidgets (no PyPI package
# ships them). Blocking them leaves the static page intact; only the widget is missing offline.
ONLINE_ONLY = (
    "https://cdnjs.cloudflare.com/ajax/libs/require.js/",
    "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@",
)
LAUNCHERS = {"Colab": "https://colab.research.google.com/", "Binder": "https://mybinder.org/"}
INSTALL_HINT = (
    "no Chromium found: install one with `apt-get install chromium` (Debian/Ubuntu) or "
    "`python -m playwright install chromium`, or set CHROMIUM=/path/to/chrome"
)

# Runs in the page once it has loaded: waits for MathJax, then reports formulas and images.
READ_PAGE_JS = r"""
async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) await mj.startup.promise;
  await Promise.all(Array.from(document.images, img => img.complete ? null :
      new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  const sources = Array.from(document.querySelectorAll('.math'));
  const untypeset = sources.filter(el => !el.querySelector('mjx-container'))
                           .map(el => el.textContent.replace(/\s+/g, ' ').trim().slice(0, 80));
  const mathErrors = [];
  const items = mj && mj.startup && mj.startup.document ? Array.from(mj.startup.document.math) : [];
  for (const item of items) {
    let bad = false;
    item.root.walkTree(node => {
      if (node.isKind('merror') || (node.isKind('mtext') && node.attributes.get('mathcolor') === 'red'))
        bad = true;  // a TeX error, or an undefined macro (MathJax's noundefined shows it in red)
    });
    if (bad) mathErrors.push(item.math.slice(0, 80));
  }
  const rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: node => node.parentElement.closest('pre, code, script, style, textarea, mjx-container')
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent;
    const at = text.search(/\\\(|\\\[|\$\$|\\begin\{/);
    if (at >= 0) rawTex.push(text.slice(Math.max(0, at - 20), at + 60).trim());
  }
  const images = Array.from(document.images, img => ({src: img.currentSrc || img.src,
                                                       ok: img.complete && img.naturalWidth > 0,
                                                       width: img.getBoundingClientRect().width,
                                                       natural: img.naturalWidth}));
  await document.fonts.ready;
  const fontErrors = Array.from(document.fonts).filter(font => font.status === 'error')
                                              .map(font => font.family);
  const launch = Array.from(document.querySelectorAll('.dropdown-launch-buttons a[href]'), a => a.href);
  const links = Array.from(document.querySelectorAll('a[href]'), a => a.href);
  return {formulas: items.length, sources: sources.length, untypeset, mathErrors, rawTex, images,
          fontErrors, launch, links};
}
"""


@dataclass
class PageReport:
    """What one page showed: counts, and every problem found (empty when the page is fine)."""

    path: str
    formulas: int = 0
    images: int = 0
    images_missing: int = 0
    links: int = 0
    problems: list[str] = field(default_factory=list)


@contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) in a thread; yield its base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass

    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def find_chromium() -> str | None:
    """A Chromium executable: ``$CHROMIUM``, else one on the PATH, else None (Playwright's own)."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


class ChromiumMissing(RuntimeError):
    """No Chromium could be started; the message says how to install one."""


@contextmanager
def open_browser():
    """Yield a headless Playwright ``Browser``, or raise :class:`ChromiumMissing`."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=find_chromium(), headless=True)
        except Error as error:
            raise ChromiumMissing(f"{INSTALL_HINT} ({str(error).splitlines()[0]})") from error
        try:
            yield browser
        finally:
            browser.close()


def html_pages(folder: Path) -> list[str]:
    """Every page of the built book, relative to ``folder`` (Sphinx's own pages excluded)."""
    skip = {"genindex.html", "search.html"}
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*.html")
        if path.name not in skip and not path.relative_to(folder).parts[0].startswith("_")
    )


def is_notebook_page(folder: Path, page: str) -> bool:
    """Whether ``page`` was built from a notebook (Sphinx keeps its source as ``_sources/*.ipynb``)."""
    return (folder / "_sources" / Path(page).with_suffix(".ipynb")).is_file()


def is_redirect(path: Path) -> bool:
    """Whether the HTML file at ``path`` forwards the reader elsewhere (a meta refresh)."""
    return re.search(r'<meta\s+http-equiv="refresh"', path.read_text(errors="replace"), re.I) is not None


def anchors_of(html: str) -> set[str]:
    """The ``id`` and ``name`` attributes of an HTML text: the anchors a link may point at."""
    return set(re.findall(r'\s(?:id|name)="([^"]+)"', html))


class LinkChecker:
    """Checks links to the book's own server: status 200, and the anchor exists (memoised)."""

    def __init__(self, base: str):
        self.base = base
        self._pages: dict[str, tuple[int, set[str]]] = {}

    def _fetch(self, url: str) -> tuple[int, set[str]]:
        if url not in self._pages:
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    body = response.read()
                    is_html = "html" in response.headers.get("Content-Type", "")
                    self._pages[url] = (response.status, anchors_of(body.decode("utf-8", "replace")) if is_html else set())
            except urllib.error.HTTPError as error:
                self._pages[url] = (error.code, set())
        return self._pages[url]

    def problem(self, link: str) -> str | None:
        """None if ``link`` resolves, else what is wrong with it."""
        url, anchor = urldefrag(link)
        status, anchors = self._fetch(url)
        if status != 200:
            return f"broken link {link} (HTTP {status})"
        if anchor and url.endswith((".html", "/")) and anchor not in anchors:
            return f"broken link {link} (no #{anchor} on that page)"
        return None


def read_page(
    browser, base: str, page: str, notebook: bool, redirect: bool, links: LinkChecker, screenshots: Path | None
) -> PageReport:
    """Open ``page`` offline in a fresh browser context and report what a reader sees.

    ``notebook``: the page was built from a notebook (it must have launch buttons). ``redirect``:
    the page only forwards the reader (``<meta http-equiv="refresh">``); the page it leads to is read.
    """
    report = PageReport(page)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    def only_loopback(route):
        if urlparse(route.request.url).hostname == HOST:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    tab = context.new_page()
    console: list[tuple[str, str]] = []
    tab.on("console", lambda msg: console.append((msg.text, msg.location.get("url", ""))) if msg.type == "error" else None)
    tab.on("pageerror", lambda error: report.problems.append(f"uncaught exception: {error}"))
    tab.on(
        "requestfailed",
        lambda request: (
            report.problems.append(f"failed request {request.url} ({request.failure})")
            if urlparse(request.url).hostname == HOST
            else None
        ),
    )
    tab.on(
        "response",
        lambda response: report.problems.append(f"HTTP {response.status} for {response.url}") if response.status >= 400 else None,
    )
    try:
        tab.goto(base + page, wait_until="commit" if redirect else "load", timeout=60_000)
        if redirect:  # the book's index.html: read the page it leads to, as a reader would
            tab.wait_for_url(lambda url: url != base + page, timeout=30_000)
            tab.wait_for_load_state("load")
            report.path = f"{page} -> {tab.url.removeprefix(base)}"
        seen = tab.evaluate(READ_PAGE_JS)
        if screenshots is not None:
            shot = screenshots / (page.replace("/", "__").removesuffix(".html") + ".png")
            tab.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()

    report.formulas = seen["formulas"]
    report.images = len(seen["images"])
    report.images_missing = sum(not img["ok"] for img in seen["images"])
    report.problems += [f"formula not typeset: {tex}" for tex in seen["untypeset"]]
    report.problems += [f"formula with a MathJax error: {tex}" for tex in seen["mathErrors"]]
    report.problems += [f"raw TeX in the text: {text!r}" for text in seen["rawTex"]]
    report.problems += [f"image not loaded: {img['src']}" for img in seen["images"] if not img["ok"]]
    report.problems += [  # figures are sized for a column of COLUMN_PX (wisetut.outputs.legibility): none may show narrower
        f"image shrunk to {img['width']:.0f} px, narrower than the {COLUMN_PX}-px column figures are sized for: {img['src']}"
        for img in seen["images"]
        if img["ok"] and img["width"] > 0 and img["natural"] > img["width"] + 1 and img["width"] < COLUMN_PX - 1
    ]  # (an image of width 0 is not shown: the launch buttons' logos in their closed menu)
    report.problems += [f"font not loaded: {family}" for family in seen["fontErrors"]]
    online_only = [url for url in blocked if url.startswith(ONLINE_ONLY)]
    report.problems += [f"needs the network: {url}" for url in blocked if url not in online_only]
    report.problems += [
        f"console error: {text}" for text, url in console if not (url in online_only and "Failed to load resource" in text)
    ]
    if notebook:
        for name, prefix in LAUNCHERS.items():
            if not any(href.startswith(prefix) for href in seen["launch"]):
                report.problems.append(f"no {name} launch button")
    internal = sorted({link for link in seen["links"] if urlparse(link).hostname == HOST})
    report.links = len(internal)
    report.problems += [problem for problem in map(links.problem, internal) if problem]
    return report


def check_book(folder: Path, screenshots: Path | None = None, pages: list[str] | None = None) -> list[PageReport]:
    """Serve ``folder``, read every page (or ``pages``) in Chromium offline; one report per page.

    Raises:
        ChromiumMissing: no Chromium could be started.
        FileNotFoundError: ``folder`` holds no HTML page.
    """
    folder = folder.resolve()
    pages = pages if pages is not None else html_pages(folder)
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {folder}: build the book first (make book)")
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    with serve(folder) as base, open_browser() as browser:
        links = LinkChecker(base)
        return [
            read_page(browser, base, page, is_notebook_page(folder, page), is_redirect(folder / page), links, screenshots)
            for page in pages
        ]


def summary(reports: list[PageReport]) -> str:
    """A table: one line per page (formulas typeset, images, internal links, problems)."""
    width = max(len(r.path) for r in reports)
    lines = [f"{'page'.ljust(width)}  formulas  images  links  problems"]
    for r in reports:
        lines.append(f"{r.path.ljust(width)}  {r.formulas:8d}  {r.images:6d}  {r.links:5d}  {len(r.problems):8d}")
        lines += [f"    - {problem}" for problem in r.problems]
    lines.append(
        f"{len(reports)} pages, {sum(r.formulas for r in reports)} formulas typeset, "
        f"{sum(r.images for r in reports)} images ({sum(r.images_missing for r in reports)} "
        f"not loaded), {sum(len(r.problems) for r in reports)} problems "
        f"(offline: every request beyond {HOST} blocked)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    args = parser.parse_args(argv)
    try:
        reports = check_book(args.html, args.screenshots)
    except (ChromiumMissing, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    print(summary(reports))
    print(f"screenshots: {args.screenshots}")
    return 1 if any(r.problems for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
