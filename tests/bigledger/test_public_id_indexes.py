"""Public ids are unique with one index: PostgreSQL gets no second, `_like` index for them
(bigledger.models.PublicIdField), and a database an older release made loses its own."""

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from bigledger.models import drop_public_id_like_indexes
from ledger.models import Customer

pytestmark = pytest.mark.django_db

LIKE_INDEXES = "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%%public_id%%like'"
UNIQUE_INDEXES = "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%%public_id%%key'"


def indexes(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [name for (name,) in cursor.fetchall()]


def test_public_ids_have_their_unique_index_and_no_pattern_index(credentials):
    customer = Customer.objects.create(company=credentials.company, name="A", number="C-1")

    assert indexes(LIKE_INDEXES) == []
    assert "ledger_customer_public_id_key" in indexes(UNIQUE_INDEXES)
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(
            company=credentials.company, name="B", number="C-2", public_id=customer.public_id
        )


def test_a_new_table_of_public_ids_gets_no_pattern_index():
    with connection.schema_editor(collect_sql=True) as editor:
        editor.create_model(Customer)  # what a migration creating the table would run

    statements = "\n".join(editor.collected_sql)
    assert "public_id" in statements and "UNIQUE" in statements
    assert "_like" not in statements and "varchar_pattern_ops" not in statements


def test_the_migration_drops_the_pattern_index_an_older_release_made():
    with connection.cursor() as cursor:  # as Django made it before
        cursor.execute(
            "CREATE INDEX ledger_customer_public_id_a2e28a11_like "
            "ON ledger_customer (public_id varchar_pattern_ops)"
        )
    assert indexes(LIKE_INDEXES) == ["ledger_customer_public_id_a2e28a11_like"]

    with connection.schema_editor() as editor:
        drop_public_id_like_indexes("ledger").code(apps, editor)

    assert indexes(LIKE_INDEXES) == []
