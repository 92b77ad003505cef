"""Writing many rows fast.

Django 5.2's bulk_create on PostgreSQL sends each column as one array parameter; with
client-side binding psycopg escapes those arrays in Python, which costs seconds for large
text (a job's chunk of JSON) and most of the time of a 500-row insert. COPY sends rows as
they are. It returns no primary keys, so it is for rows nothing refers to in the same
statement (the caller keeps the public ids).

Finding many rows fast: `company_keys` finds a company's rows by the values of a unique field,
sent as one array parameter and probed through its index value by value."""

from operator import attrgetter

from django.db import connections, models
from psycopg import ProgrammingError
from psycopg.pq import Format

from bigledger.sql import column, table

# Values psycopg adapts itself, exactly as Django would prepare them.
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateField",
        "DateTimeField",
        "DecimalField",
        "EmailField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
        "URLField",
        "OneToOneField",
        "SlugField",
    }
)


def copy_insert(model: type[models.Model], objs: list[models.Model], *, using="default") -> None:
    """INSERT the objects with COPY on PostgreSQL (bulk_create elsewhere). Unique and
    foreign-key violations raise django.db.IntegrityError as bulk_create would."""
    if not objs:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        model.objects.using(using).bulk_create(objs)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            # One statement, one moment: the first row's stamp for all (pre_save per row
            # asked the clock 500 times a chunk).
            stamp = field.pre_save(objs[0], add=True)
            for obj in objs:
                setattr(obj, field.attname, stamp)
    # Each row is read in one call; only the columns psycopg cannot take as they are are
    # prepared one by one.
    row_of = row_reader([field.attname for field in fields])
    prepared = [
        (position, field)
        for position, field in enumerate(fields)
        if field.get_internal_type() not in _AS_IS
    ]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    target = connection.ops.quote_name(model._meta.db_table)
    types = binary_types(connection, model._meta.db_table, tuple(f.column for f in fields))
    binary = " (FORMAT BINARY)" if types else ""
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {target} ({columns}) FROM STDIN{binary}") as copy,
    ):
        if types:
            copy.set_types(types)
        for obj in objs:
            row = row_of(obj)
            if prepared:
                row = list(row)
                for position, field in prepared:
                    row[position] = field.get_db_prep_save(row[position], connection)
            copy.write_row(row)


# (database, table, columns) → the columns' type oids, or () where COPY stays in text
_BINARY_TYPES: dict[tuple[str, str, tuple[str, ...]], tuple[int, ...]] = {}


def binary_types(connection, table: str, columns: tuple[str, ...]) -> tuple[int, ...]:
    """The type oids of the table's `columns`, read from the catalog once per process, when
    psycopg writes each type in binary; () otherwise (COPY in text then). Binary COPY
    sends numbers, timestamps and text as they are held, without escaping text or printing
    numbers, which took two thirds of the client's share of a COPY. The types must be the
    columns' own — a bigint sent to an integer column is misread — hence the catalog, not
    the model's fields."""
    key = (connection.settings_dict["NAME"], table, columns)
    if key not in _BINARY_TYPES:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [connection.ops.quote_name(table)],
            )
            oids = dict(cursor.fetchall())
            adapters = cursor.cursor.adapters
        types = tuple(oids.get(column, 0) for column in columns)
        try:
            for oid in types:
                adapters.get_dumper_by_oid(oid, Format.BINARY)
        except ProgrammingError:  # no binary dumper for a type (or no such column)
            types = ()
        _BINARY_TYPES[key] = types
    return _BINARY_TYPES[key]


def row_reader(attnames: list[str]):
    """A function reading the attributes of an object as one tuple, in one call."""
    read = attrgetter(*attnames)
    return read if len(attnames) > 1 else lambda obj: (read(obj),)


def company_keys(
    model: type[models.Model], *, company_id: int, field: str, values, insensitive: bool
) -> list[tuple]:
    """(value, pk) of the company's rows whose `field` (lower-cased when `insensitive`, the
    caller's values lower-cased too) is one of `values`; on PostgreSQL."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            company_keys_statement(model, field, insensitive), [company_id, list(values)]
        )
        return cursor.fetchall()


def company_keys_statement(model: type[models.Model], field: str, insensitive: bool) -> str:
    """company_keys' query: the values as one array parameter, each probed through the
    (company, field) unique index, whatever their number.

    The company is a column of the values' relation, not a constant of the WHERE. As a
    constant, PostgreSQL plans by its statistics of that company, and a company they do not
    know yet — new, or grown since the last ANALYZE, on a table other companies fill —
    counts as a row or two: it scanned all of the company's rows instead, each chunk of a
    job slower than the last (25 ms a chunk at 10,000 rows, and growing). As a column of
    the values, probed in a LATERAL subquery (which no hash join of the whole table can
    replace), each value is one probe of the unique index whatever the planner believes of
    the company (bench/volume.py measures a new company's job beside a million rows). Not
    `= ANY(%s)` either: planning that weighed each of 500 values against the column's
    statistics took 2–6 ms, more than running it."""
    value = f"t.{column(model, field)}"
    key = f"lower({value})" if insensitive else value
    # The case-insensitive unique indexes leave blank values out: saying so lets them serve.
    blank = f" AND {value} <> ''" if insensitive else ""
    return (
        "SELECT k.value, found.pk "
        "FROM (SELECT %s::bigint AS company, unnest(%s::text[]) AS value) AS k "
        f"CROSS JOIN LATERAL (SELECT t.{column(model, model._meta.pk.name)} AS pk "
        f"FROM {table(model)} AS t "
        f"WHERE t.{column(model, 'company')} = k.company "
        f"AND {key} = k.value{blank} LIMIT 1) AS found"
    )


# PostgreSQL takes at most 65,535 parameters in one statement.
_MAX_PARAMETERS = 60_000


def values_update(
    model: type[models.Model], objs: list[models.Model], fields: list[str], *, using="default"
) -> None:
    """UPDATE the objects' `fields` by primary key: one `UPDATE … FROM (VALUES …)` on
    PostgreSQL (bulk_update elsewhere). Django's bulk_update writes a CASE of one WHEN per row
    for every field, which PostgreSQL evaluates row by row: 250 customers of 13 fields cost
    more than inserting 500."""
    if not objs or not fields:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        model.objects.using(using).bulk_update(objs, fields)
        return
    columns = [model._meta.pk, *(model._meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    target = quote(model._meta.db_table)
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    names = ", ".join(quote(field.column) for field in columns)
    assignments = ", ".join(
        f"{quote(field.column)} = v.{quote(field.column)}" for field in columns[1:]
    )
    pk = quote(columns[0].column)
    per_statement = max(1, _MAX_PARAMETERS // len(columns))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start : start + per_statement]
            cursor.execute(
                f"UPDATE {target} SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))})"
                f" AS v({names}) WHERE {target}.{pk} = v.{pk}",
                [
                    field.get_db_prep_save(getattr(obj, field.attname), connection)
                    for obj in chunk
                    for field in columns
                ],
            )
