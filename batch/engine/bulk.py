"""Writing many rows fast.

Django 5.2's bulk_create on PostgreSQL sends each column as one array parameter; with
client-side binding psycopg escapes those arrays in Python, which costs seconds for large
text (a job's chunk of JSON) and most of the time of a 500-row insert. COPY sends rows as
they are. It returns no primary keys, so it is for rows nothing refers to in the same
statement (the caller keeps the public ids)."""

from django.db import connections, models

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
            for obj in objs:
                field.pre_save(obj, add=True)
    as_is = [field.get_internal_type() in _AS_IS for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    statement = f"COPY {table} ({columns}) FROM STDIN"
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(statement) as copy,
    ):
        for obj in objs:
            copy.write_row(
                [
                    getattr(obj, field.attname)
                    if plain
                    else field.get_db_prep_save(getattr(obj, field.attname), connection)
                    for field, plain in zip(fields, as_is, strict=True)
                ]
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
    table = quote(model._meta.db_table)
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
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))})"
                f" AS v({names}) WHERE {table}.{pk} = v.{pk}",
                [
                    field.get_db_prep_save(getattr(obj, field.attname), connection)
                    for obj in chunk
                    for field in columns
                ],
            )
