"""Gap-free human numbers per company (CUST-0001, INV-000001 …).

The sequence row is locked and advanced inside the caller's transaction: concurrent
writers queue behind it, a rollback gives the numbers back, and numbers follow commit
order. A batch takes all the numbers it needs in one statement.
"""

from django.db import IntegrityError, transaction

from .models import Company, NumberSequence
from .sql import column, table


def format_number(prefix: str, width: int, value: int) -> str:
    return f"{prefix}-{str(value).zfill(width)}"  # zfill: a nested format spec is slower


def allocate_numbers(*, company: Company, prefix: str, width: int, count: int) -> list[str]:
    """Reserve `count` consecutive numbers; call inside the transaction that uses them."""
    if count <= 0:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("allocate_numbers must run inside the transaction that uses them")
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        last = _advance(connection, company_id=company.pk, key=prefix, count=count)
    else:
        sequence = _locked_sequence(company=company, key=prefix)
        sequence.last_value += count
        sequence.save(update_fields=["last_value"])
        last = sequence.last_value
    first = last - count + 1
    return [format_number(prefix, width, value) for value in range(first, first + count)]


def _advance(connection, *, company_id: int, key: str, count: int) -> int:
    """Advance the sequence by `count` in one statement, creating it at `count`: the row
    stays locked until the transaction ends, as SELECT … FOR UPDATE then UPDATE would
    leave it (a statement instead of three, and no race creating a new company's row)."""
    sequences, last = table(NumberSequence), column(NumberSequence, "last_value")
    keys = f"{column(NumberSequence, 'company')}, {column(NumberSequence, 'key')}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {sequences} ({keys}, {last}) VALUES (%s, %s, %s) "
            f"ON CONFLICT ({keys}) DO UPDATE SET {last} = {sequences}.{last} + EXCLUDED.{last} "
            f"RETURNING {last}",
            [company_id, key, count],
        )
        return cursor.fetchone()[0]


def next_number_hint(*, company: Company, prefix: str) -> int:
    """The last number issued, read without a lock: a guess for provisional numbering."""
    with transaction.get_connection().cursor() as cursor:  # plain SQL: cheaper than a queryset
        cursor.execute(
            f"SELECT {column(NumberSequence, 'last_value')} FROM {table(NumberSequence)} "
            f"WHERE {column(NumberSequence, 'company')} = %s "
            f"AND {column(NumberSequence, 'key')} = %s",
            [company.pk, prefix],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


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
