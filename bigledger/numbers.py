"""Gap-free human numbers per company (CUST-0001, INV-000001 …).

The sequence row is locked and advanced inside the caller's transaction: concurrent
writers queue behind it, a rollback gives the numbers back, and numbers follow commit
order. A batch takes all the numbers it needs in one statement.
"""

from django.db import IntegrityError, transaction

from .models import Company, NumberSequence


def format_number(prefix: str, width: int, value: int) -> str:
    return f"{prefix}-{value:0{width}d}"


def allocate_numbers(*, company: Company, prefix: str, width: int, count: int) -> list[str]:
    """Reserve `count` consecutive numbers; call inside the transaction that uses them."""
    if count <= 0:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate_numbers must run inside the transaction that uses them")
    sequence = _locked_sequence(company=company, key=prefix)
    first = sequence.last_value + 1
    sequence.last_value += count
    sequence.save(update_fields=["last_value"])
    return [format_number(prefix, width, value) for value in range(first, first + count)]


def next_number_hint(*, company: Company, prefix: str) -> int:
    """The last number issued, read without a lock: a guess for provisional numbering."""
    sequence = NumberSequence.objects.filter(company=company, key=prefix).first()
    return sequence.last_value if sequence else 0


def _locked_sequence(*, company: Company, key: str) -> NumberSequence:
    queryset = NumberSequence.objects.select_for_update()
    sequence = queryset.filter(company=company, key=key).first()
    if sequence is not None:
        return sequence
    try:
        with transaction.atomic():
            NumberSequence.objects.create(company=company, key=key)
    except IntegrityError:
        pass  # Another transaction created it first; lock theirs.
    return queryset.get(company=company, key=key)
