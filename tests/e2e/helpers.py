"""Run the dashboard for real and drive it from Debian's Chromium: shared by the e2e tests and
scripts/screenshots.py.

`AppServer` starts `streamlit run serve.py` (app.py behind the security headers) on a free port against a given
database and key, and waits for
`/_stcore/health`; `launch_chromium` starts the system browser through Playwright (no download); `wait_idle`
waits until the app has finished its current run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from playwright.sync_api import Browser, Locator, Page, Playwright, ViewportSize
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = ViewportSize(width=1280, height=800)
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
PAGE_PATHS = {
    "Overview": "",
    "Sites": "Sites",
    "Environments": "Environments",
    "App instances": "App_instances",
    "Services": "Services",
    "Sync history": "Sync_history",
    "Snapshots": "Snapshots",
    "Approvals": "Approvals",
    "Quarantine": "Quarantine",
    "Display": "Display",
    "People": "People",
    "Audit log": "Audit_log",
    "Notifications": "Notifications",
}


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started (SIGTERM, then SIGKILL after 10 s), by its pid."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def chromium_available() -> bool:
    """Whether Debian's Chromium (or CHROMIUM_PATH) is installed."""
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppServer:
    """`streamlit run serve.py` in a subprocess, on a free port, against `database_url` and `secret_key`.

    `data_dir` takes the server's log and what the app keeps beside its key file (the demo's state), so a test
    never touches the developer's own data/ folder.
    """

    database_url: str
    secret_key: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        """What the server prints."""
        return self.data_dir / "streamlit.log"

    @property
    def key_file(self) -> Path:
        """RANCHERSYNC_KEY_FILE of the server (unused for the key itself, which comes by environment)."""
        return self.data_dir / "secret.key"

    @property
    def url(self) -> str:
        """The app's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, page: str) -> str:
        """The URL of a screen by its menu label."""
        return f"{self.url}/{PAGE_PATHS[page]}"

    def start(self, timeout: float = 60) -> AppServer:
        """Start the server and wait until it answers its health check."""
        env = {
            **os.environ,
            "RANCHERSYNC_DATABASE_URL": self.database_url,
            "RANCHERSYNC_SECRET_KEY": self.secret_key,
            "RANCHERSYNC_KEY_FILE": str(self.key_file),
            "RANCHERSYNC_USER": "e2e",
            "PYTHONUNBUFFERED": "1",
            "FORWARDED_ALLOW_IPS": "",  # as `make run` and the image: the connection's own address, never a header's
            **self.extra_env,
        }
        command = [
            sys.executable, "-m", "streamlit", "run", "serve.py",
            "--server.port", str(self.port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        ]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"streamlit did not become healthy in {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        stop_process(process)

    def context(self) -> AppContext:
        """A context on the server's database and key, for a test to look at what the app stored."""
        return AppContext(Settings(self.database_url, (self.secret_key,), self.key_file, "e2e"))

    def log(self) -> str:
        """What the server printed."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, without the network chatter of a desktop browser."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_page(browser: Browser, *, dark: bool = False, timezone: str = "Europe/Paris") -> Page:
    """A fresh context and page at 1280×800; `dark` asks for prefers-color-scheme: dark."""
    context = browser.new_context(
        viewport=VIEWPORT, color_scheme="dark" if dark else "light", timezone_id=timezone, locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def wait_idle(page: Page, timeout: float = 20_000) -> None:
    """Wait until the app is connected and its script has finished running."""
    page.wait_for_timeout(250)  # let a click's rerun start before we look for "not running"
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function("document.querySelectorAll(\"[data-testid='stSkeleton']\").length === 0",
                           timeout=timeout)


def open_page(page: Page, url: str) -> None:
    """Go to a URL and wait for the app to be idle."""
    page.goto(url)
    page.wait_for_selector("[data-testid='stAppViewContainer']")
    wait_idle(page)


def by_key(scope: Page | Locator, key: str) -> Locator:
    """The element of a widget or container by its Streamlit key."""
    return scope.locator(f".st-key-{key}")


def fill(page: Page, key: str, value: str) -> None:
    """Type into a text input (or text area) and commit it (Enter; Tab would only reach a password's eye icon)."""
    field_ = by_key(page, key).locator("input, textarea").first
    field_.fill(value)
    field_.press("Control+Enter" if field_.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")
    wait_idle(page)


def click(page: Page, key: str) -> None:
    """Click a button by key and wait for the rerun."""
    by_key(page, key).locator("button").first.click()
    wait_idle(page)


def choose(page: Page, key: str, option: str) -> None:
    """Pick an option of a selectbox by its visible text. After the page settles: a rerun that redraws the box
    (a dialog just dismissed, a poll) closes a list opened meanwhile, so it is opened again once if it went."""
    wait_idle(page)
    wanted = page.locator("[role='option']", has_text=option).first
    for attempt in range(3):
        by_key(page, key).locator("[role='combobox']").click()
        try:
            wanted.wait_for(timeout=5_000 if attempt < 2 else 20_000)
            break
        except PlaywrightTimeoutError:
            wait_idle(page)
    wanted.click()
    wait_idle(page)


def background_luminance(page: Page) -> float:
    """The relative luminance (0 black … 1 white) of the app's background, to check which theme is on."""
    rgb: Any = page.evaluate(
        """() => getComputedStyle(document.querySelector("[data-testid='stApp']")).backgroundColor
                 .match(/\\d+/g).slice(0, 3).map(Number)"""
    )
    r, g, b = (c / 255 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def screenshot(page: Page, path: Path) -> Path:
    """Save the viewport as a PNG (closing toasts first so they do not hide the screen)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(path))
    return path
