#!/usr/bin/env python3
"""Loads an offline HTML page in headless Chromium and reports everything broken on it.

    python3 tests/page_check.py [--chromium PATH] [--timeout SECONDS] PAGE.html

(tests/page_check.sh is the entry point: it finds Chromium and skips when there is none.)

How: serves the page's folder on a free 127.0.0.1 port (python3 http.server, in this process)
and hands Chromium the page with tests/page_check.js inserted at the very top of <head>; the
copy exists only in memory, nothing is written next to the page. The script records script
errors, console.error calls, failed and external resources, checks each <img> and <audio>, and
POSTs its findings back to the server. Requests the server answers with 404 (e.g. a missing
CSS url(...)) count as problems too. Chromium resolves no host names (the page must work
offline), runs with a throw-away profile folder (also its HOME), and is killed with its whole
process group when the result is in or the time is up; the profile folder is then removed.

Resources must lie in the page's folder or below it (as in a self-contained bundle): a
'../x.png' reaches the server as '/x.png' and fails.

Exit status: 0 and one line "page ok: N images, M audio"; 1 and one line per problem (naming
the element's src or the console message); 2 on bad usage or an unreadable page; 77 when
Chromium cannot be found.
"""
import argparse
import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

RESULT_PATH = "/__page_check__/result"
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_SKIP = 0, 1, 2, 77


def injected_page(page_bytes, checker_js):
    """The page with a <script> holding checker_js inserted right after <head ...>
    (else after <html ...>, else after the doctype, else at the very start)."""
    script = b"<script>\n" + checker_js.encode("utf-8") + b"\n</script>\n"
    script = script.replace(b"__PAGE_CHECK_INJECTED_LINES__", str(script.count(b"\n")).encode())
    for pattern in (rb"<head\b[^>]*>", rb"<html\b[^>]*>", rb"<!doctype\b[^>]*>"):
        match = re.search(pattern, page_bytes, re.IGNORECASE)
        if match:
            return page_bytes[: match.end()] + script + page_bytes[match.end():]
    return script + page_bytes


class CheckState:
    """What the server learns while Chromium loads the page."""

    def __init__(self):
        self.result = None
        self.result_arrived = threading.Event()
        self.failed_requests = []  # (status, path) of every answer >= 400
        self.lock = threading.Lock()


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the page folder; answers the page itself with the injected copy and takes the
    checker's POSTed result."""

    def __init__(self, *args, state, page_url_path, page_body, **kwargs):
        self.state = state
        self.page_url_path = page_url_path
        self.page_body = page_body
        super().__init__(*args, **kwargs)

    def do_GET(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path != self.page_url_path:
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page_body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(self.page_body)

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != RESULT_PATH:
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.send_response(204)
        self.end_headers()
        try:
            result = json.loads(body.decode("utf-8"))
        except ValueError as error:
            result = {"images": 0, "audio": 0, "problems": [f"checker sent an unreadable result: {error}"]}
        with self.state.lock:
            if self.state.result is None:
                self.state.result = result
        self.state.result_arrived.set()

    def log_request(self, code="-", size="-"):
        try:
            status = int(code)
        except (TypeError, ValueError):
            return
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if status >= 400 and path != "/favicon.ico":
            with self.state.lock:
                self.state.failed_requests.append((status, path))

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # Chromium drops media connections it no longer needs; not a page problem.


def chromium_command(chromium, profile_dir, url):
    return [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--mute-audio",
        "--autoplay-policy=no-user-gesture-required",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--enable-logging=stderr",  # console messages reach the log shown when the page never reports
        f"--user-data-dir={profile_dir}",
        url,
    ]


def stop_process_group(process):
    """Ends Chromium and every helper process it started (they share its process group):
    SIGTERM, up to 5 s for the browser to exit, then SIGKILL for whatever is left."""
    if process is None:
        return

    def signal_group(sig):
        try:
            os.killpg(process.pid, sig)
            return True
        except ProcessLookupError:
            return False

    if signal_group(signal.SIGTERM):
        try:
            process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        signal_group(signal.SIGKILL)
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        pass


def problems_from_failed_requests(failed_requests, known_problems):
    """404s and the like the element checks did not already name (e.g. CSS url(...))."""
    problems = []
    for status, path in failed_requests:
        name = path.lstrip("/")
        if any(name and name in problem for problem in known_problems):
            continue
        line = f"request failed with HTTP {status}: {name or '/'}"
        if line not in problems:
            problems.append(line)
    return problems


def check_page(page, chromium, timeout_seconds):
    """Returns (exit status, output lines)."""
    page = os.path.abspath(page)
    try:
        with open(page, "rb") as f:
            page_bytes = f.read()
    except OSError as error:
        return EXIT_USAGE, [f"page_check: cannot read {page}: {error.strerror}"]
    checker_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "page_check.js")
    with open(checker_path, encoding="utf-8") as f:
        checker_js = f.read()
    element_timeout_ms = int(timeout_seconds * 1000 * 0.4)
    checker_js = (checker_js.replace("__PAGE_CHECK_RESULT_URL__", RESULT_PATH)
                  .replace("__PAGE_CHECK_ELEMENT_TIMEOUT_MS__", str(element_timeout_ms))
                  .replace("__PAGE_CHECK_LOAD_TIMEOUT_MS__", str(element_timeout_ms)))

    state = CheckState()
    page_name = os.path.basename(page)
    handler = functools.partial(PageHandler, state=state, page_url_path="/" + page_name,
                                page_body=injected_page(page_bytes, checker_js),
                                directory=os.path.dirname(page))
    server = QuietServer(("127.0.0.1", 0), handler)
    server_thread = threading.Thread(target=server.serve_forever, daemon=True)
    server_thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{urllib.parse.quote(page_name)}"

    profile_dir = tempfile.mkdtemp(prefix="page_check_profile.")
    log_path = os.path.join(profile_dir, "chromium.log")
    process = None
    try:
        with open(log_path, "wb") as log:
            # HOME and the XDG folders point into the profile folder too, so that Chromium's
            # crash-report and audio-client files do not land in the user's home.
            environment = dict(os.environ, HOME=profile_dir, XDG_CONFIG_HOME=profile_dir,
                               XDG_CACHE_HOME=profile_dir)
            process = subprocess.Popen(chromium_command(chromium, profile_dir, url),
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       env=environment, start_new_session=True)
        deadline = time.monotonic() + timeout_seconds
        while not state.result_arrived.wait(0.1):
            if process.poll() is not None or time.monotonic() > deadline:
                break
        exited_early = process.poll() is not None
        stop_process_group(process)
        process_status = process.returncode
        if state.result is None:
            with open(log_path, "rb") as log:
                lines = log.read().decode("utf-8", "replace").splitlines()
            # Headless Chromium in a container complains about the missing D-Bus at length.
            tail = [line for line in lines if "dbus" not in line.lower()][-10:]
            why = (f"Chromium exited with status {process_status} before the page reported"
                   if exited_early else f"the page reported nothing within {timeout_seconds:g} s")
            return EXIT_PROBLEMS, [f"page check failed: {page}", f"  - {why}; Chromium's log ends with:"] + [
                "      " + line for line in tail]
    finally:
        stop_process_group(process)
        server.shutdown()
        server.server_close()
        shutil.rmtree(profile_dir, ignore_errors=True)

    result = state.result
    problems = [str(p) for p in result.get("problems", [])]
    with state.lock:
        problems += problems_from_failed_requests(state.failed_requests, problems)
    images, audio = int(result.get("images", 0)), int(result.get("audio", 0))
    if problems:
        return EXIT_PROBLEMS, [f"page check failed: {page} ({images} images, {audio} audio, "
                               f"{len(problems)} problems)"] + ["  - " + p for p in problems]
    return EXIT_OK, [f"page ok: {images} images, {audio} audio"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page", help="the HTML file to check")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"),
                        help="the Chromium executable (default: chromium on PATH)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for the page's verdict (default 60)")
    args = parser.parse_args()
    if not args.chromium or not shutil.which(args.chromium):
        print("page_check: SKIP: Chromium is not installed (scripts/setup.sh installs the Debian package chromium)")
        return EXIT_SKIP
    if args.timeout <= 0:
        print("page_check: --timeout must be positive", file=sys.stderr)
        return EXIT_USAGE

    # A SIGTERM (e.g. from `timeout` or ctest) unwinds through check_page's cleanup.
    def terminate(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, terminate)

    status, lines = check_page(args.page, args.chromium, args.timeout)
    stream = sys.stdout if status == EXIT_OK else sys.stderr
    for line in lines:
        print(line, file=stream)
    return status


if __name__ == "__main__":
    sys.exit(main())
