from django.urls import re_path

from bigledger.api.viewsets import OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("suppliers", views.SupplierViewSet, basename="supplier")
router.register("accounts", views.AccountViewSet, basename="account")
router.register("tax-codes", views.TaxCodeViewSet, basename="tax-code")
router.register("journal-entries", views.JournalEntryViewSet, basename="journal-entry")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("bills", views.BillViewSet, basename="bill")
router.register("payments", views.PaymentViewSet, basename="payment")

urlpatterns = [
    *router.urls,
    re_path(r"^reports/trial-balance/?$", views.TrialBalanceView.as_view(), name="trial-balance"),
    re_path(
        r"^reports/aged-receivables/?$",
        views.AgedReceivablesView.as_view(),
        name="aged-receivables",
    ),
    re_path(r"^reports/aged-payables/?$", views.AgedPayablesView.as_view(), name="aged-payables"),
]
