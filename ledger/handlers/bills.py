"""Bills in batches: the trade document handler for suppliers.

A bill whose supplier reference (`reference`, the supplier's own invoice number) the same
supplier already used — on a stored bill or on one earlier in the batch — still goes in, with
a DUPLICATE_SUPPLIER_REFERENCE warning naming the earlier bill: it may be the same invoice
entered twice. References match ignoring case and surrounding spaces; the stored bills that
might match are read in one query."""

from django.db.models.functions import Lower, Trim

from batch.engine.handlers import EXTERNAL_ID
from batch.engine.records import Record, RecordWarning

from ..models import Bill, Supplier
from ..services.documents import BILL, create_bills, update_bills
from .document_lines import document_schema
from .documents import TradeDocumentHandler

DUPLICATE_SUPPLIER_REFERENCE = "DUPLICATE_SUPPLIER_REFERENCE"


def reference_key(reference: str) -> str:
    return reference.strip().lower()


class BillHandler(TradeDocumentHandler):
    entity = "bills"
    model = Bill
    what = "Bill"
    kind = BILL
    party_model = Supplier
    party_what = "Supplier"
    party_params = ("supplierId", "supplierNumber", "supplierExternalId")
    date_param = "billDate"
    number_param = "billNumber"
    match_fields = (EXTERNAL_ID, number_param)
    create_documents = staticmethod(create_bills)
    update_documents = staticmethod(update_bills)
    create_schema = document_schema(party_params, date_param, number_param, update=False)
    update_schema = document_schema(party_params, date_param, number_param, update=True)

    def __init__(self, ctx):
        super().__init__(ctx)
        # (supplier pk, reference key) -> the bills holding it, earliest first: a stored
        # bill's ("bill", pk) -> its number, or ("record", id) -> a bill the batch creates.
        self.supplier_references: dict[tuple[int, str], dict[tuple, str | Record]] = {}
        # Warnings naming a bill of the batch, to be given its number once it is written.
        self.unnumbered: list[tuple[RecordWarning, Record]] = []

    def load(self, records: list[Record]) -> None:
        super().load(records)
        keys = {
            reference_key(reference)
            for record in records
            if (reference := record.values.get("reference"))
        } - {""}
        if not keys:
            return
        stored = (
            self.scoped()
            .annotate(reference_key=Lower(Trim("reference")))
            .filter(reference_key__in=keys)
            .order_by("date", "number")
            .values_list("supplier_id", "reference", "pk", "number")
        )
        for supplier_id, reference, pk, number in stored:
            key = (supplier_id, reference_key(reference))
            self.supplier_references.setdefault(key, {})[("bill", pk)] = number

    def on_staged(self, record: Record, draft, *, replaced, origin) -> None:
        super().on_staged(record, draft, replaced=replaced, origin=origin)
        key = (draft.party.pk, reference_key(draft.reference))
        if isinstance(origin, Record):  # the bill this record, or an earlier one, creates
            own, holder = ("record", id(origin)), origin
        else:  # a stored bill holds its reference
            own, holder = ("bill", origin.pk), origin.number
        if replaced is not None:
            old_key = (replaced.party.pk, reference_key(replaced.reference))
            if old_key == key:
                return  # nothing new: it was warned about when it took this reference
            self.supplier_references.get(old_key, {}).pop(own, None)
        if not key[1]:
            return
        holders = self.supplier_references.setdefault(key, {})
        earlier = next((bill for held_by, bill in holders.items() if held_by != own), None)
        holders[own] = holder
        if earlier is not None:
            self.warn_duplicate(record, draft, earlier)

    def warn_duplicate(self, record: Record, draft, earlier: str | Record) -> None:
        """Name the earlier bill by its number; one created in this batch may have none
        yet (it is given at write time), so it is named by its operation until then."""
        number = earlier
        if isinstance(earlier, Record):
            number = getattr(earlier.target, "number", None)
        bill = f"bill {number}" if number else f"the bill of operation {earlier.op.index}"
        record.warn(
            DUPLICATE_SUPPLIER_REFERENCE,
            f"Supplier {draft.party.number} already used reference '{draft.reference}' on {bill}.",
            field="reference",
        )
        if not number:
            self.unnumbered.append((record.warnings[-1], earlier))

    def write(self, records: list[Record]) -> None:
        super().write(records)
        for warning, earlier in self.unnumbered:
            if earlier.ok and earlier.data is not None:
                warning.message = warning.message.replace(
                    f"the bill of operation {earlier.op.index}", f"bill {earlier.data['number']}"
                )


HANDLERS = [BillHandler]
