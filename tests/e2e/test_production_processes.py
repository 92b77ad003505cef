"""The production process model, booted from the commands docs/operations.md gives: gunicorn,
a Celery worker and beat, on PostgreSQL and Redis, each a separate process. An async job and
a CSV import larger than one batch go through HTTP, finish, and everything shuts down on
TERM."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from ledger.models import Customer
from tests.helpers import FINISHED_JOB_STATUSES, make_company
from tests.workers import ARTIFACTS, ROOT, database_url, flush_broker, stop_shared_worker, wait_for

pytestmark = pytest.mark.slow

OPERATIONS_DOC = ROOT / "docs" / "operations.md"
DOCUMENTED_BIND = "--bind 0.0.0.0:8000"


def documented_commands() -> dict[str, str]:
    """The shell block of docs/operations.md that starts gunicorn: its variable assignments,
    and its gunicorn, worker and beat lines, without their comments."""
    blocks = re.findall(r"```sh\n(.*?)```", OPERATIONS_DOC.read_text(), flags=re.DOTALL)
    [block] = [block for block in blocks if "gunicorn bigledger.wsgi" in block]
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines()]
    commands = {
        "variables": "; ".join(line for line in lines if re.match(r"^[A-Z_]+=", line)),
        "web": next(line for line in lines if line.startswith("gunicorn ")),
        "worker": next(line for line in lines if line.startswith("celery -A bigledger worker")),
        "beat": next(line for line in lines if line.startswith("celery -A bigledger beat")),
    }
    assert DOCUMENTED_BIND in commands["web"], commands["web"]
    return commands


def environment(var_dir: Path, **more: str) -> dict[str, str]:
    """The processes' environment: this suite's database and cache, their own var dir."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "BIGLEDGER_VAR_DIR": str(var_dir),
        "ALLOWED_HOSTS": "127.0.0.1",
        **more,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """One documented command, run by bash as an operator would, logging to test-artifacts."""

    def __init__(self, name: str, command: str, variables: str, env: dict):
        self.log_path = ARTIFACTS / f"production-{name}-{os.getpid()}.log"
        self.process = subprocess.Popen(
            ["bash", "-c", f"{variables}; exec {command}"],
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        assert self.process.poll() is None, f"{self.log_path.name} exited:\n{self.log()[-3000:]}"
        return True

    def stop(self) -> int | None:
        """TERM, as a service manager stops it; its exit status, or None if it hung."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Client:
    """The API over real HTTP."""

    def __init__(self, base_url: str, api_key: str):
        self.base_url = base_url
        self.api_key = api_key

    def request(self, method: str, path: str, body: bytes | None = None, content_type=None):
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(
            self.base_url + path, data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def post_json(self, path: str, body: dict):
        return self.request("POST", path, json.dumps(body).encode(), "application/json")

    def post_file(self, path: str, name: str, content: bytes):
        boundary = uuid.uuid4().hex
        body = (
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.request("POST", path, body, f"multipart/form-data; boundary={boundary}")

    def answers(self) -> bool:
        try:
            return self.request("GET", "/v1/batch/jobs")[0] == 200
        except OSError:  # not listening yet
            return False

    def finished_job(self, job_id: str) -> dict:
        def finished():
            status, answer = self.request("GET", f"/v1/batch/jobs/{job_id}")
            assert status == 200, answer
            return answer["data"]["status"] in FINISHED_JOB_STATUSES and answer["data"]

        return wait_for(finished, timeout=30, interval=0.3)


@pytest.mark.django_db(transaction=True)
def test_gunicorn_a_worker_and_beat_run_an_async_job_and_a_file_import(_workers, tmp_path):
    stop_shared_worker(_workers)  # the processes below must be the only consumers
    flush_broker()
    credentials = make_company()
    commands = documented_commands()
    port = free_port()
    env = environment(tmp_path, CELERY_BROKER_URL=settings.CELERY_BROKER_URL)
    web_command = commands["web"].replace(DOCUMENTED_BIND, f"--bind 127.0.0.1:{port}")
    processes = {
        "web": Process("web", web_command, commands["variables"], env),
        "worker": Process("worker", commands["worker"], commands["variables"], env),
        "beat": Process("beat", commands["beat"], commands["variables"], env),
    }
    api = Client(f"http://127.0.0.1:{port}", credentials.api_key)
    try:
        wait_for(lambda: processes["web"].running() and api.answers(), timeout=30)
        wait_for(lambda: processes["worker"].running() and " ready." in processes["worker"].log())
        wait_for(
            lambda: processes["beat"].running() and "beat: Starting" in processes["beat"].log()
        )

        customers = [
            {"operation": "create", "data": {"name": f"Async {n}", "email": f"a{n}@example.com"}}
            for n in range(300)
        ]
        status, accepted = api.post_json(
            "/v1/batch/customers", {"operations": customers, "options": {"async": True}}
        )
        assert status == 202, accepted
        rows = "".join(f"File {n},f{n}@example.com\n" for n in range(600))
        status, imported = api.post_file(
            "/v1/batch/customers/import-csv", "customers.csv", f"name,email\n{rows}".encode()
        )
        assert status == 202, imported  # 600 rows: more than one batch of 500, so a job

        jobs = [api.finished_job(answer["data"]["jobId"]) for answer in (accepted, imported)]
        status, page = api.request(
            "GET", f"/v1/batch/jobs/{imported['data']['jobId']}/results?page=2&pageSize=500"
        )
        health = {check: api.request("GET", f"/health/{check}") for check in ("ready", "workers")}
    finally:
        exit_statuses = {name: process.stop() for name, process in processes.items()}

    assert [job["status"] for job in jobs] == ["completed", "completed"]
    assert {check: answer[0] for check, answer in health.items()} == {"ready": 200, "workers": 200}
    assert [job["progress"]["successfulRecords"] for job in jobs] == [300, 600]
    assert status == 200, page
    assert [result["index"] for result in page["data"]["results"]] == list(range(500, 600))
    assert {result["status"] for result in page["data"]["results"]} == {"created"}
    assert Customer.objects.filter(company=credentials.company).count() == 900
    assert exit_statuses == {"web": 0, "worker": 0, "beat": 0}, {
        name: process.log()[-2000:] for name, process in processes.items()
    }


@pytest.mark.django_db(transaction=True)
def test_the_admin_signs_in_through_a_proxy_that_terminates_tls(tmp_path):
    """Behind a proxy that terminates TLS, gunicorn sees plain HTTP. Set up as
    docs/operations.md says (the proxy's address in FORWARDED_ALLOW_IPS, SECURE_COOKIES), it
    takes the proxy's X-Forwarded-Proto for the scheme, so a browser's https Origin passes the
    admin's CSRF check, and the admin's cookies are sent over HTTPS only."""
    credentials = make_company()
    pbkdf2 = PBKDF2PasswordHasher()  # the server checks as production does, not as this suite
    get_user_model().objects.filter(username=credentials.username).update(
        password=pbkdf2.encode(credentials.password, pbkdf2.salt())
    )
    commands = documented_commands()
    port = free_port()
    env = environment(
        tmp_path,
        FORWARDED_ALLOW_IPS="127.0.0.1",  # the proxy's address: this test's
        SECURE_COOKIES="1",
    )
    web_command = commands["web"].replace(DOCUMENTED_BIND, f"--bind 127.0.0.1:{port}")
    web = Process("web-tls", web_command, commands["variables"], env)
    origin = f"https://127.0.0.1:{port}"

    def request(method: str, path: str, headers: dict, body: str = ""):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(method, path, body=body.encode(), headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read().decode()
        finally:
            connection.close()

    def sign_in(proxy_headers: dict):
        _, headers, page = request("GET", "/admin/login/", proxy_headers)
        cookie = next(value for name, value in headers if name == "Set-Cookie")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        form = urllib.parse.urlencode(
            {
                "username": credentials.username,
                "password": credentials.password,
                "csrfmiddlewaretoken": token,
                "next": "/admin/",
            }
        )
        status, answer_headers, _ = request(
            "POST",
            "/admin/login/",
            {
                **proxy_headers,
                "Cookie": cookie.split(";")[0],
                "Origin": origin,
                "Content-Type": "application/x-www-form-urlencoded",
            },
            form,
        )
        cookies = [value for name, value in answer_headers if name == "Set-Cookie"]
        return cookie, status, dict(answer_headers), cookies

    def answers() -> bool:
        try:
            return web.running() and request("GET", "/admin/login/", {})[0] == 200
        except OSError:  # not listening yet
            return False

    try:
        wait_for(answers, timeout=30)
        csrf_cookie, status, answer, cookies = sign_in({"X-Forwarded-Proto": "https"})
        _, plain_status, _, _ = sign_in({})  # a proxy that does not say so: origin refused
    finally:
        exit_status = web.stop()

    assert status == 302 and answer["Location"] == "/admin/", (status, answer)
    [session] = [cookie for cookie in cookies if cookie.startswith("sessionid=")]
    assert "Secure" in csrf_cookie and "Secure" in session
    assert plain_status == 403
    assert exit_status == 0, web.log()[-2000:]


def test_a_web_process_without_its_database_is_live_but_not_ready(tmp_path):
    """What a load balancer asks: the process answers (/health/live), but with its database
    out of reach it is not ready (/health/ready: 503, naming the check that failed)."""
    commands = documented_commands()
    port = free_port()
    env = environment(tmp_path, DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/gone")
    web_command = commands["web"].replace(DOCUMENTED_BIND, f"--bind 127.0.0.1:{port}")
    web = Process("web-no-database", web_command, commands["variables"], env)
    api = Client(f"http://127.0.0.1:{port}", api_key="")

    def live():
        try:
            return web.running() and api.request("GET", "/health/live")
        except OSError:  # not listening yet
            return False

    try:
        alive = wait_for(live, timeout=30)
        ready = api.request("GET", "/health/ready")
    finally:
        exit_status = web.stop()

    assert alive == (200, {"status": "ok"})
    assert ready == (
        503,
        {
            "status": "unavailable",
            "checks": {"database": "OperationalError", "cache": "ok", "migrations": "unknown"},
        },
    )
    assert exit_status == 0, web.log()[-2000:]
