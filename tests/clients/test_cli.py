"""The `bigledger` command as a shell runs it — the console script the package installs, in
a subprocess — against a live server: importing a CSV with a bad row (exit 1, the failure
named by its spreadsheet row), templates and exports written to files, a folder migrated and
migrated again without doubles, an async job watched to its end, and the exit codes of the
ways a run can go wrong."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bigledger_client import BigLedger

from ledger.models import Customer, Supplier

pytestmark = pytest.mark.slow

BIGLEDGER = str(Path(sys.executable).parent / "bigledger")

CUSTOMERS_CSV = """name,email,phone,credit_limit,payment_terms
Acme Trading,accounts@acmetrading.my,+60123456780,"10,000.50",30
Tech Solutions,accounts@tech.my,+60387654321,25000,45
Borneo Foods,not-an-email,+60876543210,5000,30
"""


@pytest.fixture
def bigledger(server_url, api_key, tmp_path):
    """Runs the command with the key in the environment and no config file of the user's."""

    def run(*args: str, key: str | None = api_key, url: str = server_url):
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "BIGLEDGER_BASE_URL": url}
        env.pop("BIGLEDGER_API_KEY", None)
        env.pop("BIGLEDGER_CONFIG", None)
        if key:
            env["BIGLEDGER_API_KEY"] = key
        return subprocess.run(
            [BIGLEDGER, *args], env=env, capture_output=True, text=True, timeout=300
        )

    return run


def test_importing_a_csv_with_a_bad_row_exits_1_and_names_the_row(bigledger, company, tmp_path):
    file = tmp_path / "customers.csv"
    file.write_text(CUSTOMERS_CSV)

    run = bigledger("import", str(file), "--entity", "customers", "--json")

    assert run.returncode == 1, run.stderr
    answer = json.loads(run.stdout)
    assert (answer["successfulRecords"], answer["failedRecords"]) == (2, 1)
    failure = answer["results"][2]
    assert failure["error"]["context"]["rowNumber"] == 4
    assert failure["error"]["details"][0]["field"] == "email"
    acme = Customer.objects.get(company=company, email="accounts@acmetrading.my")
    assert str(acme.credit_limit) == "10000.50"

    readable = bigledger("import", str(file), "--entity", "customers")
    assert readable.returncode == 1
    assert "row 4: VALIDATION_ERROR" in readable.stdout


def test_a_clean_file_exits_0_and_validate_only_writes_nothing(bigledger, company, tmp_path):
    file = tmp_path / "customers.csv"
    file.write_text("\n".join(CUSTOMERS_CSV.splitlines()[:3]) + "\n")

    checked = bigledger("import", str(file), "--entity", "customers", "--validate-only")
    assert checked.returncode == 0, checked.stderr
    assert "2 validated" in checked.stdout
    assert not Customer.objects.filter(company=company).exists()

    imported = bigledger("import", str(file), "--entity", "customers")
    assert imported.returncode == 0, imported.stderr
    assert "2 created" in imported.stdout
    assert Customer.objects.filter(company=company).count() == 2


def test_templates_and_exports_are_written_to_files(bigledger, server_url, api_key, tmp_path):
    BigLedger(api_key=api_key, base_url=server_url).batch.customers.upsert(
        [
            {"externalId": f"crm-{n}", "name": f"Customer {n}", "address": {"city": "Ipoh"}}
            for n in range(3)
        ]
    )
    csv_template, xlsx_template = tmp_path / "customers.csv", tmp_path / "invoices.xlsx"
    assert bigledger("template", "customers", "-o", str(csv_template)).returncode == 0
    assert "name" in csv_template.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    excel = bigledger("template", "invoices", "--excel", "-o", str(xlsx_template), "--json")
    assert excel.returncode == 0, excel.stderr
    assert json.loads(excel.stdout)["bytes"] == len(xlsx_template.read_bytes())
    assert xlsx_template.read_bytes()[:2] == b"PK"

    exported = tmp_path / "export.csv"
    run = bigledger("export", "customers", "-o", str(exported), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["rows"] == 3
    lines = exported.read_text().splitlines()
    assert "address.city" in lines[0].split(",") and len(lines) == 4
    assert bigledger("export", "customers", "-o", str(tmp_path / "all.json")).returncode == 0
    rows = json.loads((tmp_path / "all.json").read_text())
    assert sorted(row["externalId"] for row in rows) == ["crm-0", "crm-1", "crm-2"]


def test_a_folder_migrates_in_order_and_again_without_doubles(bigledger, company, tmp_path):
    folder = tmp_path / "legacy"
    folder.mkdir()
    (folder / "suppliers.csv").write_text("name,email\nPaper Mill,ap@papermill.my\n")
    (folder / "customers.csv").write_text("\n".join(CUSTOMERS_CSV.splitlines()[:3]) + "\n")

    first = bigledger("migrate", str(folder), "--json")
    assert first.returncode == 0, first.stderr
    assert list(json.loads(first.stdout)) == ["customers", "suppliers"]
    assert "customers: customers.csv" in first.stderr

    again = bigledger("migrate", str(folder))
    assert again.returncode == 0, again.stderr
    assert Customer.objects.filter(company=company).count() == 2
    assert Supplier.objects.filter(company=company).count() == 1


def test_jobs_watch_follows_a_job_to_its_end(bigledger, server_url, api_key, celery_worker):
    client = BigLedger(api_key=api_key, base_url=server_url)
    operations = [
        {"operation": "create", "data": {"name": f"Customer {n}", "email": f"w{n}@example.com"}}
        for n in range(1200)
    ]
    job = client.transport.json(
        "POST",
        "/v1/batch/customers",
        body={"operations": operations, "options": {"async": True}},
        counted=True,
    )["data"]

    run = bigledger("jobs", "watch", job["jobId"], "--json")

    assert run.returncode == 0, run.stderr
    finished = json.loads(run.stdout)
    assert (finished["status"], finished["outcome"]) == ("completed", "succeeded")
    assert finished["progress"]["successfulRecords"] == 1200
    assert "rows/s" in run.stderr and "ETA" in run.stderr and "100.0%" in run.stderr


def test_exit_codes_tell_usage_refusal_and_network_apart(bigledger, tmp_path):
    file = tmp_path / "customers.csv"
    file.write_text(CUSTOMERS_CSV)

    assert bigledger("import", str(file)).returncode == 2  # no --entity
    assert (
        bigledger("import", str(tmp_path / "missing.csv"), "--entity", "customers").returncode == 2
    )
    assert bigledger("export", "customers", "-o", str(tmp_path / "x.csv"), key=None).returncode == 2

    refused = bigledger("import", str(file), "--entity", "customers", "--json", key="blk_wrong")
    assert refused.returncode == 3
    assert json.loads(refused.stdout)["error"]["code"] == "UNAUTHORIZED"

    unreachable = bigledger(
        "jobs", "get", "job_x", "--retries", "0", url="http://127.0.0.1:9", key="blk_any"
    )
    assert unreachable.returncode == 4
    assert "NETWORK_ERROR" in unreachable.stderr
