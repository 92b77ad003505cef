"""What a new company's ledger starts with: a chart of accounts with the posting roles
filled, and tax codes. Rates are data: change a TaxCode row, not this file."""

from decimal import Decimal

from bigledger.models import Company
from bigledger.tenancy import register_company_setup

from .models import Account, AccountRole, AccountType, TaxCode

A, L, E, INC, X = (
    AccountType.ASSET,
    AccountType.LIABILITY,
    AccountType.EQUITY,
    AccountType.INCOME,
    AccountType.EXPENSE,
)

# (code, name, type, role, parent code)
DEFAULT_CHART = [
    ("1000", "Current Assets", A, None, None),
    ("1010", "Cash at Bank", A, AccountRole.BANK, "1000"),
    ("1100", "Accounts Receivable", A, AccountRole.RECEIVABLES, "1000"),
    ("1200", "Inventory", A, AccountRole.INVENTORY, "1000"),
    ("1300", "Supplier Advances", A, AccountRole.SUPPLIER_ADVANCES, "1000"),
    ("1400", "SST Input Tax", A, AccountRole.TAX_INPUT, "1000"),
    ("1500", "Prepaid Insurance", A, None, "1000"),
    ("1600", "Fixed Assets", A, None, None),
    ("1610", "Equipment", A, None, "1600"),
    ("1620", "Accumulated Depreciation", A, None, "1600"),
    ("2000", "Current Liabilities", L, None, None),
    ("2010", "Accounts Payable", L, AccountRole.PAYABLES, "2000"),
    ("2100", "SST Output Tax", L, AccountRole.TAX_OUTPUT, "2000"),
    ("2200", "Customer Deposits", L, AccountRole.CUSTOMER_ADVANCES, "2000"),
    ("3000", "Share Capital", E, None, None),
    ("3100", "Retained Earnings", E, None, None),
    ("4000", "Sales", INC, AccountRole.SALES, None),
    ("4100", "Other Income", INC, None, None),
    ("5000", "Purchases", X, AccountRole.PURCHASES, None),
    ("5050", "Cost of Goods Sold", X, AccountRole.COST_OF_SALES, None),
    ("5100", "Stock Adjustments", X, AccountRole.STOCK_ADJUSTMENT, None),
    ("6000", "Depreciation Expense", X, None, None),
    ("6100", "Insurance Expense", X, None, None),
    ("6200", "General Expenses", X, None, None),
]

# (code, name, rate in percent)
DEFAULT_TAX_CODES = [
    ("SST", "Service tax 8%", Decimal("8")),
    ("ST10", "Sales tax 10%", Decimal("10")),
    ("ST5", "Sales tax 5%", Decimal("5")),
    ("ZR", "Zero-rated", Decimal("0")),
    ("EX", "Exempt", Decimal("0")),
]


@register_company_setup
def setup_ledger_defaults(company: Company) -> None:
    accounts = {}
    for code, name, account_type, role, parent_code in DEFAULT_CHART:
        accounts[code], _ = Account.objects.get_or_create(
            company=company,
            code=code,
            defaults={
                "name": name,
                "type": account_type,
                "role": role,
                "parent": accounts.get(parent_code),
            },
        )
    for code, name, rate in DEFAULT_TAX_CODES:
        TaxCode.objects.get_or_create(
            company=company, code=code, defaults={"name": name, "rate": rate}
        )
