"""What webhook tests share: an HTTP(S) server receiving deliveries, registering an
endpoint through the API, and an async job to notify about."""

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.utils import timezone

from batch.jobs.submit import ASYNC_JOB_ID
from batch.models import BatchJob, JobMode, JobStatus


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers `failure` (500; a 3xx
    comes with a Location) to the first `fail_first` of them, 200 after. With `tls` (a
    certificate and key file) it speaks HTTPS and records the host name each client asked
    for in TLS (SNI)."""

    def __init__(self, fail_first: int = 0, failure: int = 500, tls: tuple | None = None):
        self.fail_first = fail_first
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": self.headers, "body": body})
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(failure if failing else 200)
                if failing and 300 <= failure < 400:
                    self.send_header("Location", "/elsewhere")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def register(api, url: str, **body) -> dict:
    response = api.post("/v1/webhooks", {"url": url, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["data"]


def async_job(company, status=JobStatus.PROCESSING) -> BatchJob:
    return BatchJob.objects.create(
        company=company,
        public_id=ASYNC_JOB_ID(),
        entity="customers",
        mode=JobMode.ASYNC,
        status=status,
        total_records=1,
        started_at=timezone.now(),
    )
