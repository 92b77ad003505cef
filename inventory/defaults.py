"""What a new company's inventory starts with: one warehouse."""

from bigledger.models import Company
from bigledger.tenancy import register_company_setup

from .models import Location

DEFAULT_LOCATIONS = [("WH", "Main Warehouse")]


@register_company_setup
def setup_inventory_defaults(company: Company) -> None:
    for code, name in DEFAULT_LOCATIONS:
        Location.objects.get_or_create(company=company, code=code, defaults={"name": name})
