"""Real headless Chromium for the browser tests (tests/test_browser.py).

Playwright drives the system's browser (Debian's ``chromium``, which ``.ci/run`` installs): nothing
is downloaded. Every page is watched for console errors, uncaught exceptions, failed loads and any
request that would leave this machine; such requests are refused, so a page that needs the
internet (a CDN script, a web font) fails its test here as it would for an offline reader.
"""
import contextlib
import shlex
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BROWSER_NAMES = ("chromium", "chromium-browser")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def chromium_path():
    """The system browser; a failure saying how to install it when there is none."""
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("The browser tests need Debian's chromium: `apt-get install chromium` (.ci/run installs it).")


@contextlib.contextmanager
def chromium():
    """A Playwright Browser on the system's chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def is_local(url):
    if url.startswith(LOCAL_SCHEMES):
        return True
    return urllib.parse.urlsplit(url).hostname in LOCAL_HOSTS


@dataclass
class Watch:
    """What went wrong while a page was open."""

    console_errors: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    external_requests: list = field(default_factory=list)

    def problems(self):
        return {name: values for name, values in vars(self).items() if values}


def watched_page(browser, ignore_console=()):
    """A new page in its own context, and the Watch that records its problems. Requests that would
    leave this machine are refused and recorded. Console errors containing any of ``ignore_console``
    are not recorded (for a server's own expected noise, named at the call)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watch = Watch()

    def route(request_route):
        url = request_route.request.url
        if is_local(url):
            request_route.continue_()
        else:
            watch.external_requests.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()

    def on_console(message):
        if message.type == "error" and not any(text in message.text for text in ignore_console):
            watch.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.on("requestfailed", lambda request: watch.failed_requests.append(
        f"{request.url}: {request.failure}") if is_local(request.url) else None)
    return page, watch


def images(page):
    """[(src, naturalWidth)] of every <img> on the page, once each has finished loading or failed."""
    page.wait_for_function("() => Array.from(document.images).every(image => image.complete)", timeout=30_000)
    return page.eval_on_selector_all("img", "all => all.map(i => [i.currentSrc || i.src, i.naturalWidth])")


def wait_for_markdown_images(page, expected, timeout=90_000):
    """Wait until JupyterLab has rendered `expected` images in the open notebook's markdown cells
    (it renders cells one after another, so the first image says nothing of the rest); returns the count."""
    selector = ".jp-NotebookPanel .jp-MarkdownCell img"
    page.wait_for_function(
        f"() => document.querySelectorAll({selector!r}).length >= {int(expected)}", timeout=timeout
    )
    return page.locator(selector).count()


def broken_images(page):
    return [src[:120] for src, width in images(page) if not width]


def wait_for_math(page, timeout=30_000):
    """Wait until MathJax has typeset the page; returns (math elements, typeset, errors)."""
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=timeout)
    page.evaluate("() => MathJax.startup.promise.then(() => true)")  # Playwright waits for the promise
    return (page.locator(".math").count(), page.locator("mjx-container").count(), page.locator("mjx-merror").count())


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_lab_command(repo):
    """The `jupyter lab ...` line that `make lab` runs, as a list (read from `make -n`, so the test
    serves the course exactly as the Makefile does)."""
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "lab"], cwd=repo, capture_output=True, text=True,
                             check=True).stdout
    lines = [line for line in dry_run.splitlines() if "jupyter lab" in line]
    assert len(lines) == 1, f"expected one `jupyter lab` line in `make -n lab`, got:\n{dry_run}"
    return shlex.split(lines[0])


def with_option(command, name, value):
    """``command`` with ``--name=value`` in place of any earlier value of that option."""
    return [part for part in command if not part.startswith(f"--{name}=")] + [f"--{name}={value}"]


@contextlib.contextmanager
def lab_server(command, cwd, home, log_path):
    """Run a JupyterLab ``command`` (from make_lab_command) on a free local port, with its state under
    ``home``, logging to ``log_path``; yields (base url, token). Stopped at exit."""
    port, token = free_port(), "browser-test"
    command = list(command)
    settings = (("ServerApp.port", port), ("ServerApp.ip", "127.0.0.1"), ("IdentityProvider.token", token),
                ("ServerApp.open_browser", "False"), ("ServerApp.port_retries", 0),
                ("ServerApp.allow_root", "True"))  # CI runs as root
    for name, value in settings:
        command = with_option(command, name, value)
    home = Path(home)
    environment = {
        "HOME": str(home), "PATH": str(Path(command[0]).parent) + ":/usr/bin:/bin",
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(home / "config"), "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log_tail = Path(log_path).read_text()[-3000:]
                        raise AssertionError(f"JupyterLab did not start:\n{log_tail}") from None
                    time.sleep(0.5)
            yield url, token
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
