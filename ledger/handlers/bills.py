"""Bills in batches: the trade document handler for suppliers."""

from ..models import Bill, Supplier
from ..services.documents import BILL, create_bills, update_bills
from .documents import TradeDocumentHandler, document_schema


class BillHandler(TradeDocumentHandler):
    entity = "bills"
    model = Bill
    what = "Bill"
    kind = BILL
    party_model = Supplier
    party_what = "Supplier"
    party_params = ("supplierId", "supplierNumber")
    date_param = "billDate"
    number_param = "billNumber"
    create_documents = staticmethod(create_bills)
    update_documents = staticmethod(update_bills)
    create_schema = document_schema(party_params, date_param, number_param, update=False)
    update_schema = document_schema(party_params, date_param, number_param, update=True)


HANDLERS = [BillHandler]
