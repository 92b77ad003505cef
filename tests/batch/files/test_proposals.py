"""Proposing the field each header of a bookkeeper's own file feeds: exact names, the same
letters whatever the case, spaces, punctuation or bracketed currency, the words people use,
near misspellings, and headers left for the user to decide. No database."""

from batch.engine.handlers import get_handler
from batch.files.proposals import headers_key, normalize, propose

CUSTOMERS = get_handler("customers")


def proposed(headers: list[str], samples=None) -> dict[str, tuple]:
    return {p.header: (p.field, p.how) for p in propose(CUSTOMERS, headers, samples)}


def test_the_words_people_put_in_a_header_find_their_field():
    found = proposed(["Customer Name", "E-mail", "Credit Limit (RM)", "Phone No.", "taxNumber"])

    assert found == {
        "Customer Name": ("name", "synonym"),
        "E-mail": ("email", "normalized"),
        "Credit Limit (RM)": ("creditLimit", "normalized"),
        "Phone No.": ("phone", "synonym"),
        "taxNumber": ("taxNumber", "exact"),
    }


def test_a_misspelt_header_is_proposed_as_similar_with_less_confidence():
    [street, limit] = propose(CUSTOMERS, ["Adress Street", "Credt Limit"])

    assert (street.field, street.how) == ("address.street", "similar")
    assert (limit.field, limit.how) == ("creditLimit", "similar")
    assert 0 < street.confidence < 0.9


def test_an_unknown_header_is_left_unmapped_for_the_user():
    [colour] = propose(CUSTOMERS, ["Favourite Colour"])

    assert (colour.field, colour.how, colour.confidence) == (None, "unmapped", 0.0)


def test_a_field_goes_to_its_most_confident_header_only():
    found = proposed(["Email Address", "email"])

    assert found == {"Email Address": (None, "unmapped"), "email": ("email", "exact")}


def test_proposals_keep_the_files_order_and_show_its_first_filled_values():
    rows = [
        {"E-mail": "a@acme.my", "Customer Name": "Acme"},
        {"E-mail": "", "Customer Name": " Beta "},
        {"E-mail": "c@gamma.my", "Customer Name": "Gamma"},
        {"E-mail": "d@delta.my", "Customer Name": "Delta"},
    ]

    proposals = propose(CUSTOMERS, ["E-mail", "Customer Name"], rows)

    assert [p.header for p in proposals] == ["E-mail", "Customer Name"]
    assert proposals[0].samples == ("a@acme.my", "c@gamma.my", "d@delta.my")
    assert proposals[1].as_json() == {
        "header": "Customer Name",
        "field": "name",
        "how": "synonym",
        "confidence": 0.9,
        "samples": ["Acme", "Beta", "Gamma"],
    }


def test_normalize_drops_case_spaces_punctuation_and_brackets():
    assert normalize("Credit Limit (RM)") == "creditlimit"
    assert normalize(" E-mail ") == "email"
    assert normalize("Phone No.") == "phoneno"
    assert normalize("Amount [MYR]") == "amount"


def test_the_same_headers_reordered_in_other_case_and_spacing_have_the_same_key():
    key = headers_key(["Customer Name", "E-mail", "Credit Limit (RM)"])

    assert headers_key(["credit limit (rm)", " customer  name", "E-MAIL"]) == key
    assert headers_key(["CustomerName", "Email", "CreditLimit"]) == key
    assert headers_key(["Customer Name", "E-mail"]) != key
    assert headers_key(["Customer Name", "E-mail", "Credit Limit (RM)", "Notes"]) != key


def test_a_failed_rows_csv_has_the_key_of_the_file_it_came_from():
    headers = ["Customer Name", "E-mail", "Credit Limit (RM)"]
    failed_rows = [*headers, "rowNumber", "errorCode", "errorField", "errorMessage"]

    assert headers_key([*failed_rows, "errorDetails"]) == headers_key(headers)
