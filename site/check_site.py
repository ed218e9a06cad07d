#!/usr/bin/env python3
"""Check the course website in a real browser, offline (`make site-check`).

1. Builds the site into html/ if it is missing or older than a notebook or a file of site/.
2. Reads every built page: no script, stylesheet, font or image may come from an http(s) URL;
   every <img> must resolve to a non-empty local file (or a non-empty data: URI); every relative
   link must resolve to an existing file (and its #fragment to an id of that page); each notebook
   page must have previous/next links to its neighbours in the course order.
3. Opens the home page and notebooks 01 and 08 from file:// in headless Chromium with the network
   off (its own network namespace where `unshare -n` works, and a dead proxy and resolver always),
   waits for MathJax's typesetting, its fonts and the images, and reads the rendered page: no
   formula may be left as raw $…$, \\(…\\) or \\[…\\] text outside code blocks, MathJax must report
   no error and no font may fail, every image must show, and the checks of 2 are repeated on it.
4. Writes screenshots: html/screenshot-home.png (the whole home page) and html/screenshot-01.png
   (notebook 01 from its first section with a formula in its heading, where the derivations
   start, down to its first figure).

Prints one line per problem and exits 1 if there is any. Needs Debian's `chromium`, installed with
apt-get when missing and run as root. The browser is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe): no port, no server, nothing but the standard library.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"
OUT = REPO / "html"
NOTEBOOKS = REPO / "notebooks"
SPHINX_BUILD = [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-q", "-d", str(OUT / ".doctrees"),
                str(SITE), str(OUT)]
BROWSER_PAGES = ["index.html", "notebooks/01_*.html", "notebooks/08_*.html"]
PAGE_TIMEOUT = 60  # seconds for a page to load, typeset and fetch its fonts and images
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
# Text inside these is code or MathJax's own output, where $ and \( are legitimate.
NOT_PROSE = {"pre", "code", "script", "style", "textarea", "kbd", "samp", "math", "svg",
             "noscript", "template"}
RAW_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\s](?:[^$\n]{0,300}?[^$\s])?\$|\\\(.+?\\\)|\\\[.+?\\\]"
                      r"|\\begin\{\w+\*?\}", re.S)

problems: list[str] = []


def problem(msg: str) -> None:
    if msg in problems:  # e.g. the same dead link twice on a page
        return
    problems.append(msg)
    print(f"site-check: FAIL {msg}", flush=True)


# --- 1. build -------------------------------------------------------------------------------------

def sources() -> list[Path]:
    files = list(NOTEBOOKS.glob("[0-9]*.ipynb"))
    files += [p for p in SITE.rglob("*") if p.is_file() and "notebooks" not in p.parts
              and p.name not in ("check_site.py", "README.md")]
    return files


def build_if_needed() -> None:
    index = OUT / "index.html"
    if index.exists() and index.stat().st_mtime >= max(p.stat().st_mtime for p in sources()):
        return
    print("site-check: building the site (" + " ".join(SPHINX_BUILD[2:]) + ")", flush=True)
    if subprocess.run(SPHINX_BUILD, cwd=REPO).returncode != 0 or not index.exists():
        print("site-check: FAIL the site did not build (make site shows why)")
        sys.exit(1)


# --- 2. the built pages -----------------------------------------------------------------------------

class Page(HTMLParser):
    """The parts of one HTML document that the checks need."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.imgs: list[str | None] = []
        self.links: list[tuple[str, str]] = []  # (href, class)
        self.assets: list[tuple[str, str]] = []  # (tag, url) of scripts, stylesheets, fonts, icons
        self.prose: list[str] = []
        self.mathjax_errors: list[str] = []
        self._skip = 0
        self.feed(html)
        self.close()

    @staticmethod
    def _skips(tag: str) -> bool:
        return tag not in VOID and (tag in NOT_PROSE or tag.startswith("mjx-"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "img":
            self.imgs.append(a.get("src"))
        elif tag == "a" and a.get("href") is not None:
            self.links.append((a["href"], a.get("class") or ""))
        elif tag == "script" and a.get("src"):
            self.assets.append(("script", a["src"]))
        elif tag == "link" and a.get("href") and set((a.get("rel") or "").split()) & {
                "stylesheet", "preload", "icon", "modulepreload", "prefetch"}:
            self.assets.append(("link", a["href"]))
        elif tag in ("source", "iframe", "embed", "video", "audio") and a.get("src"):
            self.assets.append((tag, a["src"]))
        if tag == "mjx-merror":
            self.mathjax_errors.append(a.get("data-mjx-error") or "")
        if self._skips(tag):
            self._skip += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self._skips(tag):
            self._skip -= 1

    def handle_endtag(self, tag):
        if self._skips(tag):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip:
            self.prose.append(data)


_pages: dict[Path, Page] = {}


def built_page(path: Path) -> Page:
    if path not in _pages:
        _pages[path] = Page(path.read_text(encoding="utf-8", errors="replace"))
    return _pages[path]


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(OUT))
    except ValueError:
        return str(path)


def is_external(url: str) -> bool:
    return bool(re.match(r"(?i)^(https?:)?//", url.strip()))


def check_assets(where: str, page: Page) -> None:
    for tag, url in page.assets:
        if is_external(url):
            problem(f"{where}: <{tag}> loads {url} from the network")


def check_images(where: str, path: Path, page: Page) -> int:
    for src in page.imgs:
        if not src:
            problem(f"{where}: <img> without a src")
        elif src.startswith("data:"):
            if "," not in src or not src.split(",", 1)[1].strip():
                problem(f"{where}: <img> with an empty data: URI")
        elif is_external(src):
            problem(f"{where}: <img> loads {src} from the network")
        else:
            target = (path.parent / unquote(urlsplit(src).path)).resolve()
            if not target.is_file() or target.stat().st_size == 0:
                problem(f"{where}: broken <img> {src} (no file {rel(target)})")
    return len(page.imgs)


def check_links(where: str, path: Path, page: Page) -> None:
    for href, _ in page.links:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            continue  # http(s), mailto: …: links to elsewhere; only this site's files are checked
        target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            problem(f"{where}: dead link {href} (no file {rel(target)})")
            continue
        if parts.fragment and target.suffix == ".html":
            ids = page.ids if target == path else built_page(target).ids
            if unquote(parts.fragment) not in ids:
                problem(f"{where}: dead link {href} (no id {parts.fragment!r} in {rel(target)})")


def check_prev_next(notebook_pages: list[Path]) -> None:
    order = [OUT / "index.html"] + notebook_pages
    for k, path in enumerate(order[1:], start=1):
        links = built_page(path).links
        for cls, expected in (("left-prev", order[k - 1]),
                              ("right-next", order[k + 1] if k + 1 < len(order) else None)):
            if expected is None:
                continue
            found = [h for h, c in links if cls in c.split()]
            name = cls.split("-")[1]
            if not found:
                problem(f"{rel(path)}: no {name} link (expected {rel(expected)})")
            elif (path.parent / found[0]).resolve() != expected:
                problem(f"{rel(path)}: {name} link goes to {found[0]}, expected {rel(expected)}")


def check_built_site() -> list[Path]:
    notebooks = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    notebook_pages = [OUT / "notebooks" / (nb.stem + ".html") for nb in notebooks]
    for nb, page in zip(notebooks, notebook_pages):
        if not page.exists():
            problem(f"no page {rel(page)} for {nb.relative_to(REPO)}")
    notebook_pages = [p for p in notebook_pages if p.exists()]
    home = built_page(OUT / "index.html")
    home_targets = {(OUT / unquote(urlsplit(h).path)).resolve() for h, _ in home.links}
    for page in notebook_pages:
        if page.resolve() not in home_targets:
            problem(f"index.html: the course map has no link to {rel(page)}")
    pages = [p for p in OUT.rglob("*.html")
             if not any(part.startswith(".") for part in p.relative_to(OUT).parts)]
    for path in sorted(pages):
        page = built_page(path)
        check_assets(rel(path), page)
        check_images(rel(path), path, page)
        check_links(rel(path), path, page)
    for css in sorted((OUT / "_static").rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"""url\(\s*['"]?((?:https?:)?//[^'")\s]+)"""
                             r"""|@import\s+(?:url\()?['"]?((?:https?:)?//[^'")\s]+)""", text):
            problem(f"{rel(css)}: loads {m.group(1) or m.group(2)} from the network")
    check_prev_next(notebook_pages)
    return notebook_pages


# --- 3. the browser ----------------------------------------------------------------------------------

def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("site-check: installing Debian's chromium (apt-get install -y chromium)", flush=True)
        quiet = {"stdout": subprocess.DEVNULL,
                 "env": dict(os.environ, DEBIAN_FRONTEND="noninteractive")}
        if subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], **quiet).returncode:
            subprocess.run(["apt-get", "update", "-q"], **quiet)  # no package lists yet
            subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], **quiet)
        if shutil.which("chromium"):
            return shutil.which("chromium")
    print("site-check: FAIL chromium is missing: install it with `sudo apt-get install -y chromium` "
          "(Debian, Ubuntu), then run make site-check again")
    sys.exit(1)


def offline_prefix() -> list[str]:
    """`unshare -n` (or -rn as a user) where it works: the browser then has no network at all."""
    for cmd in (["unshare", "-n"], ["unshare", "-rn"]):
        if shutil.which("unshare") and subprocess.run(
                cmd + ["true"], stderr=subprocess.DEVNULL).returncode == 0:
            return cmd
    return []


def _dup_high(fd: int) -> int:
    import fcntl
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe: it reads commands on its
    fd 3 and writes answers and events on its fd 4, each a JSON text ended by a NUL byte."""

    def __init__(self):
        exe = find_chromium()
        self.prefix = offline_prefix()
        self.profile = tempfile.mkdtemp(prefix="site-check-chromium-")
        cmd = self.prefix + [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--mute-audio", "--hide-scrollbars",
            f"--user-data-dir={self.profile}", "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe", "about:blank"]
        cmd_r, self._w = os.pipe()
        self._r, ans_w = os.pipe()
        cmd_r, ans_w = (_dup_high(fd) if fd in (3, 4) else fd for fd in (cmd_r, ans_w))

        def child_fds():
            os.dup2(cmd_r, 3)
            os.dup2(ans_w, 4)

        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=child_fds,
                                     pass_fds=(3, 4))
        os.close(cmd_r)
        os.close(ans_w)
        self._buf = b""
        self._id = 0
        self._events: list[dict] = []
        self.session = None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.send("Page.enable")

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium exited")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, timeout: float = PAGE_TIMEOUT, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._events.append(reply)

    def wait_event(self, method: str, timeout: float = PAGE_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for k, ev in enumerate(self._events):
                if ev.get("method") == method:
                    return self._events.pop(k)
            self._events.append(self._read(deadline))

    def evaluate(self, expression: str):
        res = self.send("Runtime.evaluate", expression=expression, awaitPromise=True,
                        returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"].get("text", "script error"))
        return res["result"].get("value")

    def open(self, url: str, width: int = 1280, height: int = 1000) -> dict:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self._events.clear()
        self.send("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        return self.evaluate(PAGE_STATE)

    def screenshot(self, png: Path, top: float = 0, height: float | None = None,
                   width: int = 1280) -> None:
        full = self.evaluate("document.documentElement.scrollHeight")
        height = min(height or full, full - top)
        # A window as tall as the shot, so that the theme's sticky sidebars are drawn in it too.
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=int(top + height),
                  deviceScaleFactor=1, mobile=False)
        shot = self.send("Page.captureScreenshot", format="png",
                         clip={"x": 0, "y": top, "width": width, "height": height, "scale": 1})
        png.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (TimeoutError, RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


# Run in the page after its load event: wait for MathJax's first typesetting, then for every image
# and the fonts MathJax asked for, and report what a reader sees.
PAGE_STATE = r"""
(async () => {
  const mj = window.MathJax;
  let mathjax = "absent";
  if (mj && mj.startup && mj.startup.promise) {
    try { await mj.startup.promise; mathjax = "done"; } catch (e) { mathjax = "failed: " + e; }
  } else if (document.querySelector(".math")) {
    mathjax = "did not load";
  }
  for (const img of document.images) img.loading = "eager";
  await Promise.all([...document.images].map(i => i.complete ? null :
    new Promise(r => { i.addEventListener("load", r); i.addEventListener("error", r); })));
  await document.fonts.ready;
  return {
    mathjax, version: (mj && mj.version) || null,
    brokenImages: [...document.images].filter(i => !i.naturalWidth).map(i => i.getAttribute("src")),
    failedFonts: [...document.fonts].filter(f => f.status === "error").map(f => f.family),
    loadedFonts: [...document.fonts].filter(f => f.status === "loaded").map(f => f.family),
    html: document.documentElement.outerHTML,
  };
})()
"""

# Notebook 01's derivations: from the first section whose heading has a formula ("2. The
# derivative of the sigmoid: σ'(x) = …") down to the first figure after it, so that the screenshot
# shows typeset formulas and an image; the top of the page if there is no such heading.
DERIVATION_CLIP = r"""
(() => {
  const y = el => el.getBoundingClientRect().top + window.scrollY;
  let top = 0;
  for (const h of document.querySelectorAll("main section > h2")) {
    if (h.querySelector("mjx-container")) { top = Math.max(0, y(h) - 24); break; }
  }
  const img = [...document.querySelectorAll("main img")].find(i => y(i) > top);
  const bottom = img ? y(img) + img.getBoundingClientRect().height + 24 : top + 2400;
  return {top, height: Math.min(bottom - top, 6000)};
})()
"""


def check_in_browser(browser: Browser, path: Path) -> bool:
    where = rel(path) + " (in chromium)"
    try:
        state = browser.open(path.as_uri())
    except (TimeoutError, RuntimeError) as exc:
        problem(f"{where}: {exc}")
        return False
    before = len(problems)
    page = Page(state["html"])
    check_assets(where, page)
    n_img = check_images(where, path, page)
    for src in state["brokenImages"]:
        problem(f"{where}: <img> {src} does not show (the browser could not load or decode it)")
    if n_img < len(built_page(path).imgs):
        problem(f"{where}: {len(built_page(path).imgs) - n_img} <img> of the page missing in the DOM")
    check_links(where, path, page)
    n_math = path.read_text(encoding="utf-8").count('class="math notranslate')
    if n_math and state["mathjax"] != "done":
        problem(f"{where}: MathJax {state['mathjax']} (is html/_static/mathjax there?)")
    for family in sorted(set(state["failedFonts"])):
        problem(f"{where}: font {family} failed to load")
    raw = [m.group(0) for m in RAW_MATH.finditer("".join(page.prose))]
    for text in raw[:15]:
        problem(f"{where}: formula left as raw TeX: {' '.join(text.split())[:100]}")
    if len(raw) > 15:
        problem(f"{where}: ... and {len(raw) - 15} more formulas left as raw TeX")
    for err in page.mathjax_errors[:15]:
        problem(f"{where}: MathJax error: {err or 'unknown'}")
    if len(problems) == before:
        mj = (f" (MathJax {state['version']}, {len(set(state['loadedFonts']))} fonts)"
              if n_math else "")
        print(f"site-check: ok   {rel(path)}: {n_math} formulas typeset{mj}, {n_img} images "
              f"shown, {len(page.links)} links", flush=True)
    return True


def shot(browser: Browser, png: Path, **clip) -> None:
    try:
        browser.screenshot(png, **clip)
        print(f"site-check: wrote {rel(png)}", flush=True)
    except (TimeoutError, RuntimeError) as exc:
        problem(f"no screenshot {rel(png)}: {exc}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-build", action="store_true", help="check html/ as it is")
    ap.add_argument("--all", action="store_true",
                    help="open every notebook page in the browser, not only 01 and 08")
    args = ap.parse_args()
    browser_pages = BROWSER_PAGES + (["notebooks/[0-9]*.html"] if args.all else [])
    t0 = time.perf_counter()
    if not args.no_build:
        build_if_needed()
    elif not (OUT / "index.html").exists():
        print("site-check: FAIL html/index.html is missing: run make site")
        return 1
    notebook_pages = check_built_site()
    try:
        browser = Browser()
    except (TimeoutError, RuntimeError, OSError) as exc:
        print(f"site-check: FAIL chromium did not start: {exc}")
        return 1
    if not browser.prefix:
        print("site-check: note: unshare -n does not work here; offline by proxy and resolver flags")
    try:
        opened: list[Path] = []
        for pattern in browser_pages:
            found = sorted(OUT.glob(pattern))
            if not found:
                problem(f"no page {pattern} in html/")
            for path in found if pattern == browser_pages[-1] and args.all else found[:1]:
                if path in opened:
                    continue
                opened.append(path)
                if not check_in_browser(browser, path):
                    continue
                if path.name == "index.html":
                    shot(browser, OUT / "screenshot-home.png")
                elif path.name.startswith("01_"):
                    clip = browser.evaluate(DERIVATION_CLIP)
                    shot(browser, OUT / "screenshot-01.png", **clip)
    finally:
        browser.close()
    took = time.perf_counter() - t0
    if problems:
        print(f"site-check: {len(problems)} problem(s), one FAIL line each above ({took:.0f} s)")
        return 1
    print(f"site-check: passed ({took:.0f} s): {len(notebook_pages)} notebook pages checked, "
          f"{len(opened)} opened offline in chromium")
    return 0


if __name__ == "__main__":
    sys.exit(main())
