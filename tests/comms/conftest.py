"""Real delivery peers on loopback: an SMTP server and a chat webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.mail_server import free_port as _free_port
from tests.mail_server import smtp_server  # noqa: F401


@pytest.fixture
def smtp_down(settings):
    """Mail settings pointing at a loopback port where nothing listens."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _free_port()
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 2


class _ChatHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.server.posts.append(json.loads(self.rfile.read(length)))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatHandler)
    server.posts = []
    server.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.COMMS_CHANNEL_BACKENDS = {
        **settings.COMMS_CHANNEL_BACKENDS,
        "chat": "comms.channels.WebhookChatChannel",
    }
    settings.CHAT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    settings.CHAT_WEBHOOK_TIMEOUT = 5
    yield server
    server.shutdown()
    server.server_close()
