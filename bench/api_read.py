"""Reading one incident: the API's JSON next to the incident page's HTML.

In process, through Django's test client, on the SQLite demo data: a copy
made in a temporary directory (migrate, then load_demo_data), so the
working database is left alone. Times 50 GET /api/v1/incidents/{id} (the
demo agent's read token) and 50 GET /incidents/{id}/ (the agent signed in)
on bench/typical.py's incident, after a warm-up, and prints each median,
p95 and query count.

    DEBUG=true SECRET_KEY=x .venv/bin/python bench/api_read.py
"""

import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "50"))
WARM_UP = 5


def timed(get, url: str) -> tuple[float, float, int]:
    """Return the median and p95 in ms of REQUESTS GETs, and their queries."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARM_UP):
        assert get(url).status_code == 200, url
    reset_queries()  # a full log (the demo loader's) would capture nothing
    with CaptureQueriesContext(connection) as queries:
        get(url)
    times = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    p95 = statistics.quantiles(times, n=20)[-1]
    return statistics.median(times), p95, len(queries)


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="api-bench-")
    try:
        run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(workdir: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/demo.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Fifty reads must not meet the per-token limit.
    os.environ["API_RATE_LIMIT_PER_MINUTE"] = "0"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from typical import typical_incident

    from api import services

    setup_test_environment()  # the client's host, "testserver", is allowed
    with contextlib.redirect_stdout(io.StringIO()):
        call_command("migrate", verbosity=0)
        call_command("load_demo_data", verbosity=0)
    incident = typical_incident()
    agent = get_user_model().objects.get(username="agent")
    _token, text = services.issue_api_token(
        user=agent, name="Bench", scope="read", actor=None
    )
    api = Client(headers={"Authorization": f"Bearer {text}"})
    page = Client()
    page.force_login(agent)

    figures = {
        f"GET /api/v1/incidents/{incident.pk} (JSON)": timed(
            api.get, f"/api/v1/incidents/{incident.pk}"
        ),
        f"GET /incidents/{incident.pk}/ (HTML page)": timed(
            page.get, f"/incidents/{incident.pk}/"
        ),
    }
    print(f"{REQUESTS} requests each, in process, SQLite demo data")
    for name, (median, p95, queries) in figures.items():
        print(f"{name:<42} median {median:6.2f} ms  p95 {p95:6.2f} ms  ", end="")
        print(f"{queries} queries")


if __name__ == "__main__":
    main()
