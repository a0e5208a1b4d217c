import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations import subscriptions
from integrations.models import WebhookEndpoint


@pytest.fixture(autouse=True)
def fresh_subscriptions():
    """Forget the endpoints each test made: the cache outlives its rollback."""
    subscriptions.forget()
    yield
    subscriptions.forget()


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        self.server.calls.append(
            {"path": self.path, "headers": dict(self.headers), "raw": raw}
        )
        status = self.server.statuses.pop(0) if self.server.statuses else 204
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", f"{self.server.url}/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    """An HTTP receiver on loopback; set ``statuses`` to answer other than 204."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.calls, server.statuses = [], []
    server.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def bodies(receiver) -> list[dict]:
    return [json.loads(call["raw"]) for call in receiver.calls]


@pytest.fixture
def endpoint(db, receiver):
    return WebhookEndpoint.objects.create(
        name="Warehouse",
        url=f"{receiver.url}/hooks/switchboard",
        events=["incident.opened", "incident.status_changed", "incident.resolved"],
    )


@pytest.fixture
def integrations_admin(admin_user):
    """An admin of the portal: the Admin group holds this app's permissions."""
    return admin_user
