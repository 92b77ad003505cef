"""Read-only ledger API: list and retrieve, scoped to the caller's company, plus the reports
(trial balance, aged receivables and payables). Each viewset declares what it joins so a page
is a constant number of queries."""

from collections.abc import Callable

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bigledger.api.permissions import REQUIRES_PERMISSIONS, view_permission
from bigledger.api.viewsets import SyncedReadOnlyViewSet, TenantScopedReadOnlyViewSet

from ..models import (
    Account,
    Bill,
    BillLine,
    Customer,
    Invoice,
    InvoiceLine,
    JournalEntry,
    JournalLine,
    Payment,
    PaymentAllocation,
    Supplier,
    TaxCode,
)
from ..selectors import AgedBalances, aged_payables, aged_receivables, trial_balance
from .reports import (
    AS_OF_PARAMETERS,
    TRIAL_BALANCE_PARAMETERS,
    AgedBalancesSerializer,
    report_date,
    report_period,
)
from .serializers import (
    AccountSerializer,
    BillSerializer,
    CustomerSerializer,
    InvoiceSerializer,
    JournalEntrySerializer,
    PaymentSerializer,
    SupplierSerializer,
    TaxCodeSerializer,
    TrialBalanceSerializer,
)

PARTY_FILTERS = {"number": "number", "email": "email__iexact", "status": "status"}


class CustomerViewSet(SyncedReadOnlyViewSet):
    model = Customer
    serializer_class = CustomerSerializer
    query_filters = {**PARTY_FILTERS, "customerNumber": "number"}


class SupplierViewSet(SyncedReadOnlyViewSet):
    model = Supplier
    serializer_class = SupplierSerializer
    query_filters = {**PARTY_FILTERS, "supplierNumber": "number"}


class AccountViewSet(SyncedReadOnlyViewSet):
    model = Account
    serializer_class = AccountSerializer
    select_related = ["parent"]
    query_filters = {"code": "code", "type": "type", "role": "role"}


class TaxCodeViewSet(TenantScopedReadOnlyViewSet):
    model = TaxCode
    serializer_class = TaxCodeSerializer
    query_filters = {"code": "code"}


class JournalEntryViewSet(SyncedReadOnlyViewSet):
    model = JournalEntry
    serializer_class = JournalEntrySerializer
    prefetch_related = [
        Prefetch("lines", queryset=JournalLine.objects.select_related("account")),
    ]
    query_filters = {"number": "number", "reference": "reference", "source": "source"}


def _trade_lines(line_model) -> Prefetch:
    return Prefetch("lines", queryset=line_model.objects.select_related("item", "tax_code"))


class InvoiceViewSet(SyncedReadOnlyViewSet):
    model = Invoice
    serializer_class = InvoiceSerializer
    select_related = ["customer", "journal_entry"]
    prefetch_related = [_trade_lines(InvoiceLine)]
    query_filters = {
        "number": "number",
        "status": "status",
        "reference": "reference",
        "customerId": "customer__public_id",
        "customerNumber": "customer__number",
    }


class BillViewSet(SyncedReadOnlyViewSet):
    model = Bill
    serializer_class = BillSerializer
    select_related = ["supplier", "journal_entry"]
    prefetch_related = [_trade_lines(BillLine)]
    query_filters = {
        "number": "number",
        "status": "status",
        "reference": "reference",
        "supplierId": "supplier__public_id",
        "supplierNumber": "supplier__number",
    }


class PaymentViewSet(SyncedReadOnlyViewSet):
    model = Payment
    serializer_class = PaymentSerializer
    select_related = ["customer", "supplier", "journal_entry"]
    prefetch_related = [
        Prefetch(
            "allocations",
            queryset=PaymentAllocation.objects.select_related("invoice", "bill").order_by("id"),
        ),
    ]
    query_filters = {
        "number": "number",
        "direction": "direction",
        "reference": "reference",
        "customerId": "customer__public_id",
        "supplierId": "supplier__public_id",
    }


class TrialBalanceView(APIView):
    """GET /v1/reports/trial-balance: every account with postings and the two totals, for a
    user who may view both the accounts and the journal entries the balances sum; as of a
    date (`asOf`), or the movements of a period (`from`, `to`)."""

    permission_classes = REQUIRES_PERMISSIONS
    required_permissions = [view_permission(Account), view_permission(JournalEntry)]

    @extend_schema(
        parameters=TRIAL_BALANCE_PARAMETERS,
        responses=inline_serializer(
            "TrialBalanceResponse",
            {
                "success": serializers.BooleanField(),
                "data": inline_serializer(
                    "TrialBalanceReport",
                    {
                        "from": serializers.DateField(allow_null=True),
                        "to": serializers.DateField(allow_null=True),
                        "accounts": TrialBalanceSerializer().fields["accounts"],
                        "totalDebit": TrialBalanceSerializer().fields["totalDebit"],
                        "totalCredit": TrialBalanceSerializer().fields["totalCredit"],
                    },
                ),
            },
        ),
    )
    def get(self, request) -> Response:
        start, end = report_period(request.query_params)
        report = trial_balance(company=request.auth.company, start=start, end=end)
        data = {
            "from": start and start.isoformat(),
            "to": end and end.isoformat(),
            **TrialBalanceSerializer(report).data,
        }
        return Response({"success": True, "data": data})


class AgedBalancesView(APIView):
    """What each party owed as of a date (`asOf`, default today), by days past due."""

    permission_classes = REQUIRES_PERMISSIONS
    selector: Callable[..., AgedBalances]  # the subclass's, as a staticmethod

    def get(self, request) -> Response:
        report = self.selector(
            company=request.auth.company, as_of=report_date(request.query_params)
        )
        return Response({"success": True, "data": AgedBalancesSerializer(report).data})


def _aged_schema(name: str):
    return extend_schema(
        parameters=AS_OF_PARAMETERS,
        responses=inline_serializer(
            name, {"success": serializers.BooleanField(), "data": AgedBalancesSerializer()}
        ),
    )


class AgedReceivablesView(AgedBalancesView):
    """GET /v1/reports/aged-receivables: open invoices per customer."""

    required_permissions = [
        view_permission(Customer),
        view_permission(Invoice),
        view_permission(Payment),
    ]
    selector = staticmethod(aged_receivables)

    @_aged_schema("AgedReceivablesResponse")
    def get(self, request) -> Response:
        return super().get(request)


class AgedPayablesView(AgedBalancesView):
    """GET /v1/reports/aged-payables: open bills per supplier."""

    required_permissions = [
        view_permission(Supplier),
        view_permission(Bill),
        view_permission(Payment),
    ]
    selector = staticmethod(aged_payables)

    @_aged_schema("AgedPayablesResponse")
    def get(self, request) -> Response:
        return super().get(request)
