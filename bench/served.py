"""Served throughput: gunicorn with the production settings, driven over loopback.

Starts `gunicorn portal.wsgi --workers 2` on a free 127.0.0.1 port with the
README's production settings (.env.example's: DEBUG off, behind a TLS proxy
with the HTTPS redirect, HSTS and secure cookies; each request carries the
proxy's X-Forwarded-Proto header),
signs in as the demo agent, checks that every page answers 200 with the
signed-in page, then drives each page with wrk when the machine has it, or
else with a bounded Python load generator, and prints pages/s, p50, p95 and
p99. The same gunicorn also serves the floor page (bench/floor.py: sign-in
check and a tiny template, nothing else), driven first, so a page's pages/s
can be read as a fraction of the floor's; gunicorn runs with
bench/bench_settings.py for that (portal.settings plus the floor's URL).
Anything unexpected (a page that is not 200, the sign-in page instead of the
page, a non-2xx response under load, a dead server) stops the benchmark with
an error. Everything it started is stopped before it returns.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
USERNAME = "agent"
PASSWORD = "switchboard-demo"
SIGNED_IN_MARK = "Sign out"  # the navigation shows it to signed-in people only
SECONDS = int(os.environ.get("BENCH_SERVED_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_SERVED_CONNECTIONS", "8"))
# The Python load generator stops at whichever comes first.
MAX_REQUESTS = int(os.environ.get("BENCH_SERVED_MAX_REQUESTS", "20000"))
START_TIMEOUT = 60
FLOOR_NAME = "floor page (bench/floor.py)"


class BenchError(Exception):
    """A sanity check failed: the figures would mean nothing."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(database_url: str, port: int) -> dict:
    """Return .env.example's production settings, on this host and database.

    Settings are portal.settings plus the floor page's URL (bench_settings,
    found on PYTHONPATH after the project itself).
    """
    env = dict(os.environ)
    python_path = [str(ROOT), str(ROOT / "bench")]
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env.update(
        DJANGO_SETTINGS_MODULE="bench_settings",
        PYTHONPATH=os.pathsep.join(python_path),
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY") or "bench-only-secret-key",
        ALLOWED_HOSTS=HOST,
        CSRF_TRUSTED_ORIGINS=f"https://{HOST}:{port}",
        BEHIND_TLS_PROXY="true",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true",
        SESSION_COOKIE_SECURE="true",
        CSRF_COOKIE_SECURE="true",
        LOG_LEVEL="WARNING",
        # The load generator is one client: the API's per-token limit would
        # measure the limiter.
        API_RATE_LIMIT_PER_MINUTE="0",
    )
    return env


class Server:
    """gunicorn with two sync workers, stopped when the block ends."""

    def __init__(self, database_url: str, workers: int = 2):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="bench-gunicorn-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"{HOST}:{self.port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=server_env(database_url, self.port),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise BenchError(f"gunicorn did not listen within {START_TIMEOUT} s")

    def __exit__(self, *exc):
        self.stop()

    def check_alive(self):
        if self.process.poll() is not None:
            raise BenchError(
                f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self):
        if self.process.poll() is None:
            # The master and its workers form the session started above.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.log.close()
        os.unlink(self.log.name)


def request(port, method, path, *, headers=None, body=None, timeout=30):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _cookies(response) -> dict:
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


def sign_in(port: int) -> dict:
    """Sign in through the login form; return the headers of a signed-in request."""
    proxy = {"X-Forwarded-Proto": "https"}
    response, page = request(port, "GET", "/login/", headers=proxy)
    if response.status != 200:
        raise BenchError(f"GET /login/ answered {response.status}")
    csrf_cookie = _cookies(response).get("csrftoken")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not csrf_cookie or not token:
        raise BenchError("the sign-in page has no CSRF token")
    response, _ = request(
        port,
        "POST",
        "/login/",
        headers={
            **proxy,
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
            "Origin": f"https://{HOST}:{port}",
            "Referer": f"https://{HOST}:{port}/login/",
        },
        body=urlencode(
            {
                "csrfmiddlewaretoken": token.group(1),
                "username": USERNAME,
                "password": PASSWORD,
            }
        ),
    )
    session = _cookies(response).get("sessionid")
    if response.status != 302 or not session:
        raise BenchError(
            f"signing in as {USERNAME} failed (status {response.status}); "
            "the bench database needs the demo users (load_demo_data)"
        )
    return {**proxy, "Cookie": f"sessionid={session}; csrftoken={csrf_cookie}"}


def check_page(port: int, path: str, headers: dict, expect: str) -> None:
    response, page = request(port, "GET", path, headers=headers)
    if response.status != 200:
        raise BenchError(f"GET {path} answered {response.status}, not 200")
    if SIGNED_IN_MARK not in page or expect not in page:
        raise BenchError(f"GET {path} is not the signed-in page (no {expect!r})")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# wrk's --latency table has no 95th percentile: a done() hook prints it.
WRK_P95_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("p95_us: %d\\n", latency:percentile(95.0)))
end
"""


def run_wrk(port: int, path: str, headers: dict) -> dict:
    with tempfile.NamedTemporaryFile("w", prefix="bench-wrk-", suffix=".lua") as script:
        script.write(WRK_P95_SCRIPT)
        script.flush()
        command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
        command += ["-s", script.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        command.append(f"http://{HOST}:{port}{path}")
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=SECONDS + 30, check=False
        )
    out = result.stdout
    if result.returncode != 0:
        raise BenchError(f"wrk failed: {result.stderr or out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad:
        raise BenchError(f"{path}: {bad.group(1)} responses were not 2xx under load")
    if (
        errors
        and "timeout" in errors.group(1)
        and not errors.group(1).endswith("timeout 0")
    ):
        raise BenchError(f"{path}: wrk reported {errors.group(0)}")

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            raise BenchError(f"wrk printed no {label}% latency:\n{out}")
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p95 = re.search(r"^p95_us: (\d+)\s*$", out, re.M)
    if not p95:
        raise BenchError(f"wrk printed no 95% latency:\n{out}")
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50"),
        "p95": int(p95.group(1)) / 1000,
        "p99": latency("99"),
        "requests": requests,
    }


def run_python(port: int, path: str, headers: dict) -> dict:
    """Drive one page from CONNECTIONS threads, bounded in time and count."""
    deadline = time.monotonic() + SECONDS
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def worker():
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            while time.monotonic() < deadline and not failures:
                with lock:
                    if len(latencies) >= MAX_REQUESTS:
                        return
                started = time.perf_counter()
                try:
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    return
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200:
                    failures.append(f"status {response.status}")
                    return
                with lock:
                    latencies.append(elapsed)
        finally:
            conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
    elapsed = time.monotonic() - started
    if failures:
        raise BenchError(f"{path} under load: {failures[0]}")
    if not latencies:
        raise BenchError(f"{path}: no request completed")
    return {
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p95": _percentile(latencies, 0.95),
        "p99": _percentile(latencies, 0.99),
        "requests": len(latencies),
    }


def served_throughput(
    database_url: str, pages: dict[str, tuple[str, str]]
) -> dict[str, dict]:
    """Print pages/s, p50, p95 and p99 per page; ``pages`` maps name to (path,
    mark). The floor page is driven first, under FLOOR_NAME. Return each
    page's figures by name."""
    from floor import FLOOR_PATH

    tool = "wrk" if shutil.which("wrk") else "python"
    if os.environ.get("BENCH_LOAD") == "python":  # to check the fallback
        tool = "python"
    drive = run_wrk if tool == "wrk" else run_python
    print(
        f"\nServed: gunicorn --workers 2, DEBUG off, {CONNECTIONS} connections, "
        f"{SECONDS} s per page, load from {tool}"
        + ("" if tool == "wrk" else " (install wrk for steadier figures)")
    )
    pages = {FLOOR_NAME: (FLOOR_PATH, f"Signed in as {USERNAME}"), **pages}
    results = {}
    with Server(database_url) as server:
        try:
            headers = sign_in(server.port)
            for path, mark in pages.values():
                check_page(server.port, path, headers, mark)
            print(
                f"{'page':<28} {'pages/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
            )
            for name, (path, _) in pages.items():
                result = drive(server.port, path, headers)
                server.check_alive()
                # The page must still be the signed-in page after the load.
                check_page(server.port, path, headers, pages[name][1])
                print(
                    f"{name:<28} {result['rate']:>9.1f} {result['p50']:>8.1f} "
                    f"{result['p95']:>8.1f} {result['p99']:>8.1f}"
                )
                results[name] = result
        except BenchError as exc:
            raise BenchError(
                f"{exc}\n--- gunicorn log ---\n{server.log_tail()}"
            ) from None
    return results


def public_throughput(
    database_url: str, path: str, mark: str, *, token: str = "", label: str = ""
) -> dict:
    """Drive a page without a session, as anonymous readers (or an API
    client with ``token``) do: print and return pages/s, p50, p95 and p99."""
    tool = "wrk" if shutil.which("wrk") else "python"
    if os.environ.get("BENCH_LOAD") == "python":
        tool = "python"
    drive = run_wrk if tool == "wrk" else run_python
    headers = {"X-Forwarded-Proto": "https"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with Server(database_url) as server:
        try:
            response, page = request(server.port, "GET", path, headers=headers)
            if response.status != 200 or mark not in page:
                raise BenchError(
                    f"GET {path} answered {response.status} without {mark!r}"
                )
            result = drive(server.port, path, headers)
            server.check_alive()
        except BenchError as exc:
            raise BenchError(
                f"{exc}\n--- gunicorn log ---\n{server.log_tail()}"
            ) from None
    print(
        f"{label or 'Public status page'} {path}: {result['rate']:.1f} pages/s, p50 "
        f"{result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, p99 "
        f"{result['p99']:.1f} ms ({CONNECTIONS} connections, {SECONDS} s, "
        f"anonymous, load from {tool})"
    )
    return result
