"""Read-only ledger API: list and retrieve, scoped to the caller's company, plus the trial
balance. Each viewset declares what it joins so a page is a constant number of queries."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bigledger.api.permissions import REQUIRES_PERMISSIONS, view_permission
from bigledger.api.viewsets import TenantScopedReadOnlyViewSet

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
from ..selectors import trial_balance
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


class CustomerViewSet(TenantScopedReadOnlyViewSet):
    model = Customer
    serializer_class = CustomerSerializer
    query_filters = {**PARTY_FILTERS, "customerNumber": "number"}


class SupplierViewSet(TenantScopedReadOnlyViewSet):
    model = Supplier
    serializer_class = SupplierSerializer
    query_filters = {**PARTY_FILTERS, "supplierNumber": "number"}


class AccountViewSet(TenantScopedReadOnlyViewSet):
    model = Account
    serializer_class = AccountSerializer
    select_related = ["parent"]
    query_filters = {"code": "code", "type": "type", "role": "role"}


class TaxCodeViewSet(TenantScopedReadOnlyViewSet):
    model = TaxCode
    serializer_class = TaxCodeSerializer
    query_filters = {"code": "code"}


class JournalEntryViewSet(TenantScopedReadOnlyViewSet):
    model = JournalEntry
    serializer_class = JournalEntrySerializer
    prefetch_related = [
        Prefetch("lines", queryset=JournalLine.objects.select_related("account")),
    ]
    query_filters = {"number": "number", "reference": "reference", "source": "source"}


def _trade_lines(line_model) -> Prefetch:
    return Prefetch("lines", queryset=line_model.objects.select_related("item", "tax_code"))


class InvoiceViewSet(TenantScopedReadOnlyViewSet):
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


class BillViewSet(TenantScopedReadOnlyViewSet):
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


class PaymentViewSet(TenantScopedReadOnlyViewSet):
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
    user who may view both the accounts and the journal entries the balances sum."""

    permission_classes = REQUIRES_PERMISSIONS
    required_permissions = [view_permission(Account), view_permission(JournalEntry)]

    @extend_schema(
        responses=inline_serializer(
            "TrialBalanceResponse",
            {"success": serializers.BooleanField(), "data": TrialBalanceSerializer()},
        )
    )
    def get(self, request) -> Response:
        report = trial_balance(company=request.auth.company)
        return Response({"success": True, "data": TrialBalanceSerializer(report).data})
