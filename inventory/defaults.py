"""What a new company's inventory starts with: one warehouse."""

from bigledger.models import Company

from .models import Location

DEFAULT_LOCATIONS = [("WH", "Main Warehouse")]


def setup_inventory_defaults(company: Company) -> None:
    for code, name in DEFAULT_LOCATIONS:
        Location.objects.get_or_create(company=company, code=code, defaults={"name": name})
