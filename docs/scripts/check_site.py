"""`make docs-check`: open the built site in headless Chromium and fail on what a reader would hit.

Serves ``site/`` on 127.0.0.1, has Debian's ``chromium`` render the quickstart, the
sales-invoices reference page (a method page) and the ``SalesInvoiceCreate`` model page (the DOM
after the theme's JavaScript ran), and fails when

- a method of ``client.sales_invoices`` (every operation in the operations table, plus
  ``changes``) has no rendered entry on its reference page, or the page does not link the
  model its ``create`` takes,
- a field of ``SalesInvoiceCreate`` (from the model itself) is not listed on its page, or
- a link on either page leads to a page the site does not serve, or to an anchor missing there.

It saves a screenshot of each page beside the report (``build/docs-check/``) for a person to look
at. Without chromium it stops with exit 2 and says how to install it; ``DOCS_CHECK_SKIP=1`` turns
that into a skip for machines that cannot install it (CI installs it: see .ci/run).

    python docs/scripts/check_site.py [SITE_DIR] [--out build/docs-check]
"""

from __future__ import annotations

import argparse
import functools
import html.parser
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = "SalesInvoiceCreate"  # what sales_invoices.create takes
PAGES = {
    "quickstart": "",
    "sales invoices reference": "reference/sales_invoices/",
    "sales invoice create model": f"reference/models/{MODEL}/",
}
METHOD_ANCHOR = "sage_accounting.resources.sales_invoices.SalesInvoices.{}"
BROWSER_SECONDS = 90


@dataclass
class ParsedPage:
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    title: str = ""
    code: set[str] = field(default_factory=set)  # the text of each <code> element


class _Parser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = ParsedPage()
        self._in_title = False
        self._code: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.page.ids.add(values["id"] or "")
        if tag == "a" and values.get("href"):
            self.page.links.append(values["href"] or "")
        self._in_title = tag == "title"
        if tag == "code":
            self._code = []

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page.title += data
        if self._code is not None:
            self._code.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "code" and self._code is not None:
            self.page.code.add("".join(self._code).strip())
            self._code = None


def parse(text: str) -> ParsedPage:
    parser = _Parser()
    parser.feed(text)
    return parser.page


def expected_methods() -> list[str]:
    """The methods client.sales_invoices must show: from the operations table, not a hand list."""
    from sage_accounting._runtime import all_operations

    OPERATIONS = all_operations()

    names = [info.name for info in OPERATIONS.values() if info.resource == "sales_invoices"]
    return [*names, "changes"]


def missing_methods(page: ParsedPage, methods: list[str]) -> list[str]:
    return [name for name in methods if METHOD_ANCHOR.format(name) not in page.ids]


def expected_fields() -> list[str]:
    """The wire names of the model page's fields: from the model, not a hand list."""
    from sage_accounting import models

    fields = getattr(models, MODEL).model_fields
    return [info.alias or name for name, info in fields.items()]


def missing_fields(page: ParsedPage, fields: list[str]) -> list[str]:
    return [name for name in fields if name not in page.code]


def links_model(page: ParsedPage) -> bool:
    return any(f"models/{MODEL}/" in link for link in page.links)


def _internal(origin: str, page_url: str, href: str) -> str | None:
    """The absolute URL of a link into the site, or None for one that leaves it."""
    url = urllib.parse.urljoin(page_url, href)
    if not url.startswith(origin + "/"):
        return None
    return url


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own server)
        return str(response.read().decode("utf-8", "replace"))


def broken_links(origin: str, page_url: str, page: ParsedPage) -> list[str]:
    """Each link of the page that leads nowhere, as 'href: why'."""
    problems: list[str] = []
    targets: dict[str, ParsedPage | None] = {}
    for href in sorted(set(page.links)):
        url = _internal(origin, page_url, href)
        if url is None:
            continue
        target, _, fragment = url.partition("#")
        if target not in targets:
            try:
                targets[target] = page if target == page_url else parse(fetch(target))
            except (urllib.error.URLError, OSError) as error:
                targets[target] = None
                problems.append(f"{href}: {error}")
                continue
        parsed = targets[target]
        if parsed is None:
            continue
        if fragment and urllib.parse.unquote(fragment) not in parsed.ids:
            problems.append(f"{href}: no element with id {fragment!r} on {target}")
    return problems


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def find_chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _browser(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    flags += ["--no-first-run", "--hide-scrollbars", "--virtual-time-budget=3000"]
    return subprocess.run(
        [chromium, *flags, *args],
        capture_output=True,
        text=True,
        timeout=BROWSER_SECONDS,
        check=True,
    )


def rendered_dom(chromium: str, url: str) -> str:
    return _browser(chromium, "--dump-dom", url).stdout


def screenshot(chromium: str, url: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _browser(chromium, f"--screenshot={path}", "--window-size=1280,1600", url)


def check(site: Path, out: Path, chromium: str) -> list[str]:
    """Every problem found (empty when the site is good); prints what it looked at."""
    problems: list[str] = []
    with serve(site) as origin:
        for label, path in PAGES.items():
            url = f"{origin}/{path}"
            page = parse(rendered_dom(chromium, url))
            if not page.title.strip():
                problems.append(f"{label}: the page did not render (no title)")
                continue
            if label == "sales invoices reference":
                methods = expected_methods()
                missing = missing_methods(page, methods)
                problems += [f"{label}: method {name!r} is not on the page" for name in missing]
                print(f"{label}: {len(methods) - len(missing)}/{len(methods)} methods rendered")
                if not links_model(page):
                    problems.append(f"{label}: no link to the {MODEL} model page")
            if label.endswith(" model"):
                fields = expected_fields()
                absent = missing_fields(page, fields)
                problems += [f"{label}: field {name!r} is not listed" for name in absent]
                print(f"{label}: {len(fields) - len(absent)}/{len(fields)} fields listed")
            links = broken_links(origin, url, page)
            problems += [f"{label}: broken link {p}" for p in links]
            print(
                f"{label}: {page.title.strip()!r}, {len(set(page.links))} links, {len(links)} broken"
            )
            shot = out / f"{label.replace(' ', '_')}.png"
            screenshot(chromium, url, shot)
            print(f"{label}: screenshot {shot}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default="site", type=Path)
    parser.add_argument("--out", default="build/docs-check", type=Path)
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"docs-check: {args.site}/index.html not found: run `make docs` first")
        return 2
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("DOCS_CHECK_SKIP") == "1":
            print("docs-check: SKIPPED: chromium is not installed (DOCS_CHECK_SKIP=1)")
            return 0
        print(
            "docs-check: chromium not found: `apt-get install -y chromium` "
            "(or DOCS_CHECK_SKIP=1 to skip this check on a machine without it)"
        )
        return 2
    problems = check(args.site, args.out, chromium)
    for problem in problems:
        print(f"docs-check: FAIL: {problem}")
    print("docs-check: ok" if not problems else f"docs-check: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
