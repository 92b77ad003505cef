"""Mapping profiles, proposals and transformations through the API: a bookkeeper's own
spreadsheet imported by a saved profile, and its failed rows returned in its own columns."""

import csv
import io
import json

from django.core.files.uploadedfile import SimpleUploadedFile

from ledger.models import Customer

OWN_FILE = (
    b"Customer Name,E-mail,Credit Limit (RM),Country,Notes\r\n"
    b'  acme trading ,ACME@EXAMPLE.COM,"1.500,55",Malaysia,first\r\n'
    b'Beta Sdn Bhd,not-an-email,"2.000,00",Singapore,second\r\n'
)
COLUMNS = [
    {
        "header": "Customer Name",
        "field": "name",
        "transforms": [{"type": "trim"}, {"type": "case", "to": "title"}],
    },
    {"header": "E-mail", "field": "email", "transforms": [{"type": "case", "to": "lower"}]},
    {
        "header": "Credit Limit (RM)",
        "field": "creditLimit",
        "transforms": [{"type": "number", "decimalComma": True}],
    },
    {
        "header": "Country",
        "field": "address.country",
        "transforms": [{"type": "map", "builtIn": "country"}],
    },
    {"header": "Notes", "field": ""},
]


def post_file(api, content, **form):
    form["file"] = SimpleUploadedFile("mine.csv", content)
    return api.post("/v1/batch/customers/import-csv", form, format="multipart")


def test_a_file_imports_by_its_saved_profile_and_fails_back_in_its_own_columns(api, company):
    saved = api.post(
        "/v1/batch/mapping-profiles",
        {"entity": "customers", "name": "Old system", "columns": COLUMNS},
        format="json",
    )
    assert saved.status_code == 201, saved.content

    response = post_file(api, OWN_FILE, mappingProfile="Old system")

    assert response.status_code == 200, response.content
    statuses = [r["status"] for r in response.json()["data"]["results"]]
    assert statuses == ["created", "failed"]
    customer = Customer.objects.for_company(company).get()
    assert (customer.name, customer.email) == ("Acme Trading", "acme@example.com")
    assert str(customer.credit_limit) == "1500.55"
    batch_id = response.json()["data"]["batchId"]
    failed = api.get(f"/v1/batch/jobs/{batch_id}/results?format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(failed.streaming_content).decode())))
    assert rows[0] == [
        "Customer Name",
        "E-mail",
        "Credit Limit (RM)",
        "Country",
        "Notes",
        "rowNumber",
        "errorCode",
        "errorField",
        "errorMessage",
        "errorDetails",
    ]
    assert rows[1][:6] == ["Beta Sdn Bhd", "not-an-email", "2.000,00", "Singapore", "second", "3"]
    assert rows[1][7] == "email"


def test_an_unknown_profile_and_a_bad_transformation_are_refused_naming_them(api, company):
    unknown = post_file(api, OWN_FILE, mappingProfile="Nope")
    bad = post_file(
        api,
        b"name,Joined\r\nAcme,01/02/2024\r\n",
        options=json.dumps({"transforms": {"Joined": [{"type": "date", "format": "QQ/MM"}]}}),
    )

    assert unknown.status_code == 400 and "Nope" in unknown.json()["error"]["message"]
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "INVALID_MAPPING"
    assert bad.json()["error"]["details"][0]["field"] == "Joined"
    assert not Customer.objects.for_company(company).exists()


def test_proposals_match_synonyms_and_find_the_saved_profile_again(api, company):
    api.post(
        "/v1/batch/mapping-profiles",
        {"entity": "customers", "name": "Old system", "columns": COLUMNS},
        format="json",
    )

    response = api.post(
        "/v1/batch/mapping-profiles/propose",
        {"entity": "customers", "file": SimpleUploadedFile("again.csv", OWN_FILE)},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    proposed = {p["header"]: (p["field"], p["how"]) for p in data["proposals"]}
    assert proposed["Customer Name"] == ("name", "synonym")
    assert proposed["E-mail"] == ("email", "normalized")
    assert proposed["Credit Limit (RM)"] == ("creditLimit", "normalized")
    assert data["proposals"][0]["samples"] == ["acme trading", "Beta Sdn Bhd"]
    assert data["matchingProfile"]["name"] == "Old system"


def test_a_split_writes_one_column_into_two_fields(api, company):
    split = [{"type": "split", "separator": " ", "into": ["name", "email"]}]

    response = post_file(
        api, b"Who\r\nZed zed@example.com\r\n", options=json.dumps({"transforms": {"Who": split}})
    )

    assert response.status_code == 200, response.content
    assert Customer.objects.for_company(company).get().email == "zed@example.com"
