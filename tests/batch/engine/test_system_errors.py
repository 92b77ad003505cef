"""What a caller sees when the write itself fails: every record told, nothing half-done."""

import pytest

from ledger.models import Account, Invoice
from tests import builders
from tests.helpers import create, post_batch

pytestmark = pytest.mark.django_db


def test_a_company_without_a_receivables_account_gets_system_errors_not_a_500(api, company):
    customer = builders.customer(company)
    Account.objects.filter(company=company, role="receivables").update(role=None)

    result = post_batch(
        api,
        "invoices",
        [
            create(
                {
                    "customerId": customer.public_id,
                    "invoiceDate": "2024-01-15",
                    "items": [
                        {"description": "x", "quantity": 1, "unitPrice": 10, "taxCode": "SST"}
                    ],
                }
            )
        ],
    )

    record = result["data"]["results"][0]
    assert (record["status"], record["error"]["code"]) == ("failed", "SYSTEM_ERROR")
    assert not Invoice.objects.for_company(company).exists()
