"""Spreadsheet columns derived from the handlers' schemas. No database."""

import pytest

from batch.engine.fields import Field, Schema
from batch.engine.handlers import Handler, get_handler, registered_handlers
from batch.engine.parsers import Kind, Parser, Text
from batch.files.columns import (
    BOOLEAN,
    CHOICE,
    DATE,
    INTEGER,
    LINE,
    MONEY,
    layout_for,
)


def layout(entity):
    return layout_for(get_handler(entity))


def names(entity):
    return [column.name for column in layout(entity).columns]


def test_every_registered_entity_has_columns():
    assert set(registered_handlers()) >= {
        "customers",
        "suppliers",
        "items",
        "accounts",
        "invoices",
        "bills",
        "journal-entries",
        "payments",
        "stock-adjustments",
    }
    for handler in registered_handlers().values():
        assert layout_for(handler).input_columns


def test_nested_fields_flatten_with_dots_and_identifiers_come_from_update_and_delete():
    columns = names("customers")
    assert columns[:4] == ["operation", "referenceId", "id", "customerNumber"]
    assert {"address.street", "address.city", "address.postalCode", "address.country"} <= set(
        columns
    )
    city = layout("customers").column("address.city")
    assert city.path == ("address", "city")
    assert layout("customers").column("customerNumber").operations == {"update", "upsert", "delete"}
    assert layout("customers").column("name").required


def test_lines_entities_have_a_grouping_column_line_columns_and_calculated_columns():
    invoices = layout("invoices")
    assert invoices.list_name == "items" and invoices.group_column == "reference"
    assert names("invoices")[2] == "reference"  # grouping column first
    quantity = invoices.column("items.quantity")
    assert (quantity.scope, quantity.path, quantity.required) == (LINE, ("quantity",), True)
    assert invoices.computed_columns == {"items.amount"}
    assert layout("journal-entries").computed_columns == {
        "lines.runningDebit",
        "lines.runningCredit",
        "lines.balanceCheck",
    }
    assert layout("payments").list_name == "allocations"
    assert layout("payments").computed_columns == frozenset()


def test_the_operation_column_is_in_templates_only_when_there_is_a_choice():
    assert "operation" in [c.name for c in layout("customers").template_columns]
    assert "operation" not in [c.name for c in layout("journal-entries").template_columns]
    assert "referenceId" not in [c.name for c in layout("customers").template_columns]


def test_parser_kinds_and_settings_are_read_from_the_schema():
    customers = layout("customers")
    assert customers.column("status").parser.choices == ("active", "inactive")
    assert customers.column("name").parser.max_length == 100
    terms = customers.column("paymentTerms").parser
    assert (terms.kind, terms.minimum, terms.maximum) == (INTEGER, 0, 365)
    assert customers.column("creditLimit").kind == MONEY
    assert layout("invoices").column("invoiceDate").kind == DATE
    assert layout("items").column("trackSerial").kind == BOOLEAN
    assert layout("invoices").column("items.quantity").parser.positive


class Colour(Parser):
    """A parser of the handler's own: its declared kind and limits make the column."""

    kind = Kind.CHOICE
    choices = ("red", "blue")

    def __call__(self, value):
        return value

    def describe(self):
        return "red or blue"


class PaintHandler(Handler):
    """A handler of a made-up entity: only what layout_for reads."""

    entity, operations, max_records = "paints", frozenset({"create"}), 10
    create_schema = Schema({"colour": Field(Colour()), "name": Field(Text(7))})


def test_a_parser_of_its_own_gives_its_column_its_kind_choices_and_description():
    paints = layout_for(PaintHandler)

    colour = paints.column("colour")
    assert (colour.kind, colour.parser.choices) == (CHOICE, ("red", "blue"))
    assert colour.description == "Optional. Takes red or blue."
    assert paints.column("name").description == "Optional. Takes text, up to 7 characters."


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("creditLimit", "creditLimit"),
        ("credit_limit", "creditLimit"),
        ("Credit Limit", "creditLimit"),
        ("CREDITLIMIT", "creditLimit"),
        ("address.postal_code", "address.postalCode"),
        ("city", "address.city"),
        ("Postal Code", "address.postalCode"),
    ],
)
def test_headers_resolve_case_and_separator_insensitively(header, column):
    assert layout("customers").resolve(header).name == column


def test_bare_line_field_names_resolve_only_when_unambiguous():
    assert layout("invoices").resolve("quantity").name == "items.quantity"
    journal = layout("journal-entries")
    assert journal.resolve("description").name == "description"  # the entry's, not a line's
    assert journal.resolve("debit").name == "lines.debit"
    assert layout("payments").resolve("amount").name == "amount"


def test_descriptions_say_required_and_what_a_column_takes():
    invoices = layout("invoices")
    assert invoices.column("invoiceDate").description.startswith("Required when creating.")
    assert "Give customerId or customerNumber." in invoices.column("customerId").description
    assert "ignored on upload" in invoices.column("items.amount").description
    assert "one of: active, inactive" in layout("customers").column("status").description
