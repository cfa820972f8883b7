"""Open HTML pages in a real headless Chromium and report what a reader would see go wrong.

Drives Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages
separated by NUL bytes on file descriptors 3 and 4), so it needs nothing but the browser and the
standard library. For each page: console errors and warnings, uncaught exceptions, log entries of
level error (e.g. a resource that failed to load), and every ``<img>`` that did not decode.

As a script (for a person, or CI without pytest)::

    python tests/browser.py results/index.html [more.html ...]

prints one line per problem and exits 1 when there is any (0 otherwise, 2 without a browser).
Chromium: ``apt-get install -y chromium`` (Debian), or set ``NOISYLAB_CHROMIUM`` to its path.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--remote-debugging-pipe")
_IMAGES = ("JSON.stringify(Array.from(document.images).map(i => ({alt: i.alt, "
           "complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})))")
_LINKS = "JSON.stringify(Array.from(document.links).map(a => a.href))"


def find_chromium() -> str | None:
    """The Chromium executable: ``$NOISYLAB_CHROMIUM``, else ``chromium`` on the PATH."""
    env = os.environ.get("NOISYLAB_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _above_4(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


@dataclass
class PageCheck:
    """What loading one page showed."""

    url: str
    images: list[dict] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def broken_images(self) -> list[dict]:
        return [i for i in self.images if not i["complete"] or i["width"] == 0]

    def problems(self) -> list[str]:
        out = [f"{self.url}: {e}" for e in self.errors]
        out += [f"{self.url}: image did not load: {i['alt'][:80]!r}" for i in self.broken_images]
        return out


class Chromium:
    """A headless Chromium with one DevTools session on a pipe; use as a context manager."""

    def __init__(self, executable: str, *, timeout: float = 60.0):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="noisylab-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # above 4, so that moving them onto fds 3 and 4 in the child never closes one of them
        to_browser_r, from_browser_w = (_above_4(fd) for fd in (to_browser_r, from_browser_w))

        def pipes_on_3_and_4():  # the browser reads commands on fd 3, writes replies on fd 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        # close_fds=False keeps the two dup2'ed descriptors; every other one Python opened is
        # close-on-exec anyway (PEP 446)
        self._stderr = tempfile.TemporaryFile()   # a pipe could fill up and stall the browser
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            preexec_fn=pipes_on_3_and_4, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=self.session)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self._send({"id": -1, "method": "Browser.close"})
                self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._stderr.close()
            self._profile.cleanup()

    # -- the protocol ------------------------------------------------------------------------

    def _send(self, message: dict) -> None:
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    self._stderr.seek(0)
                    err = self._stderr.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"Chromium closed the pipe: {err}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, *, session: str | None = None, **params) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._receive(deadline)
            if event.get("method") == method:
                return event
            if "method" in event:
                self.events.append(event)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=self.session, expression=expression,
                           returnByValue=True)
        return result["result"].get("value")

    # -- one page ---------------------------------------------------------------------------

    def check(self, page: str | Path) -> PageCheck:
        """Load ``page`` (a path or URL), wait for its load event, and report what went wrong."""
        url = Path(page).resolve().as_uri() if "://" not in str(page) else str(page)
        self.events.clear()
        self.call("Page.navigate", session=self.session, url=url)
        self.wait_for("Page.loadEventFired")
        check = PageCheck(url=url, images=json.loads(self.evaluate(_IMAGES)),
                          links=json.loads(self.evaluate(_LINKS)))
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                               "warning"):
                text = " ".join(str(a.get("value", a.get("description", "")))
                                for a in params.get("args", []))
                check.errors.append(f"console {params['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                what = details.get("exception", {}).get("description", "")
                check.errors.append(f"exception: {details.get('text', '')} {what}".strip())
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                check.errors.append(f"log error: {entry.get('text')} {entry.get('url', '')}")
        return check


def main(argv: list[str]) -> int:
    executable = find_chromium()
    if executable is None:
        print("no Chromium found (apt-get install -y chromium, or set NOISYLAB_CHROMIUM)")
        return 2
    problems = []
    with Chromium(executable) as browser:
        for page in argv:
            result = browser.check(page)
            problems += result.problems()
            print(f"{result.url}: {len(result.images)} images, {len(result.links)} links, "
                  f"{len(result.problems())} problems")
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
