"""django-import-export resources whose columns are the API's, for the admin's exports.

A resource's headers are the batch files' own (batch.files.columns.layout_for: the headers
the templates carry), so an exported file uploads again through the API or the admin:
master data is exported as update rows naming each record by `id`, documents with lines as
one row per line, the document's fields on its first line and its grouping column on each
(the shape mapping.read_operations groups back). Every text cell passes through safe_cell,
so nothing exported runs as a spreadsheet formula; the apostrophe it adds is removed again
on upload. Entity apps declare their resources with `api_resource` / `api_lines_resource`;
this module knows no entity."""

import datetime
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import tablib
from django.db.models import Model, Prefetch
from import_export import resources, widgets
from import_export.fields import Field

from batch.engine.handlers import Handler
from batch.files.columns import layout_for
from batch.files.security import FORMULA_TRIGGERS, safe_cell

Source = str | Callable[[Any], Any]  # an attribute path ("tax_code__code") or a function


class ApiValueWidget(widgets.Widget):
    """Writes a value as the API's files spell it: true/false, ISO dates in text formats,
    numbers as numbers (a spreadsheet sees a number and "-5" is not taken for a formula)."""

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, numbers.Number):
            return value
        if isinstance(value, datetime.date) and not kwargs.get("force_native_type"):
            return value.isoformat()
        return value if isinstance(value, datetime.date) else str(value)


class ApiTextWidget(ApiValueWidget, widgets.CharWidget):
    pass


class ApiDecimalWidget(ApiValueWidget, widgets.DecimalWidget):
    pass


class ApiBooleanWidget(ApiValueWidget, widgets.BooleanWidget):
    pass


def api_field(column: str, source: Source | None = None, widget=None) -> Field:
    """A column named as the API names it, read from an attribute path or a function."""
    if callable(source):
        return Field(column_name=column, dehydrate_method=source, widget=ApiValueWidget())
    return Field(attribute=source, column_name=column, widget=widget or ApiValueWidget())


class ApiColumnsResource(resources.ModelResource):
    """Export with the API's headers, formula-safe. `handler` is the batch handler whose
    files the export must read back as."""

    handler: ClassVar[type[Handler] | None] = None

    def export_field(self, field, instance, **kwargs):
        return safe_cell(super().export_field(field, instance, **kwargs))

    @classmethod
    def get_display_name(cls) -> str:
        return cls.handler.entity if cls.handler else super().get_display_name()


def _columns(
    handler: type[Handler], sources: dict[str, Source], operation: str | None
) -> dict[str, Field]:
    """The handler's template columns in template order, each filled from `sources`, else
    from the handler's field_map (plain model attributes); calculated template columns are
    kept only when a source fills them, and the operation column says `operation`."""
    plain = handler.field_map
    fields = {}
    for column in layout_for(handler).template_columns:
        source = sources.get(column.name, plain.get(column.name))
        if column.name == "operation":
            source = (lambda instance, _op=operation: _op) if operation else None
        elif column.computed and source is None:
            continue
        fields[column.name] = api_field(column.name, source)
    unknown = sources.keys() - fields.keys()
    if unknown:
        raise ValueError(f"{handler.entity} files have no column {', '.join(sorted(unknown))}.")
    return fields


def _resource_class(name: str, base: type, model: type[Model], fields: dict, attrs: dict) -> type:
    meta = type(
        "Meta", (), {"model": model, "fields": tuple(fields), "export_order": tuple(fields)}
    )
    return type(base)(
        name, (base,), {**fields, **attrs, "Meta": meta, "__module__": base.__module__}
    )


def api_resource(
    model: type[Model],
    handler: type[Handler],
    *,
    sources: dict[str, Source] | None = None,
    operation: str | None = None,
    name: str | None = None,
) -> type[ApiColumnsResource]:
    """A resource exporting `model` one row per record, as `handler`'s files hold it."""
    fields = _columns(handler, sources or {}, operation)
    return _resource_class(
        name or f"{model.__name__}Resource", ApiColumnsResource, model, fields, {"handler": handler}
    )


class ApiLinesResource(ApiColumnsResource):
    """Documents with lines: one row per line. The document's own fields go on its first
    line only and the grouping column on every line, so rows group back into documents
    even when that column is blank. A document without lines is one row."""

    lines: ClassVar[str]  # the related name of the document's lines
    line_related: ClassVar[tuple[str, ...]] = ()

    @property
    def list_prefix(self) -> str:
        return f"{layout_for(self.handler).list_name}."

    def export(self, queryset=None, **kwargs) -> tablib.Dataset:
        self.before_export(queryset, **kwargs)
        if queryset is None:
            queryset = self.get_queryset()
        queryset = self.filter_export(queryset, **kwargs)
        line_model = queryset.model._meta.get_field(self.lines).related_model
        queryset = queryset.prefetch_related(
            Prefetch(self.lines, queryset=line_model.objects.select_related(*self.line_related))
        )
        fields = self.get_export_fields(kwargs.get("export_fields"))
        dataset = tablib.Dataset(headers=[field.column_name for field in fields])
        for document in self.iter_queryset(queryset):
            lines = list(getattr(document, self.lines).all()) or [None]
            for position, line in enumerate(lines):
                dataset.append(
                    [self._cell(field, document, line, position, **kwargs) for field in fields]
                )
        self.after_export(queryset, dataset, **kwargs)
        return dataset

    def _cell(self, field, document, line, position: int, **kwargs):
        if field.column_name.startswith(self.list_prefix):
            return "" if line is None else self.export_field(field, line, **kwargs)
        group = layout_for(self.handler).group_column
        if position == 0 or field.column_name == group:
            return self.export_field(field, document, **kwargs)
        return ""


def api_lines_resource(
    model: type[Model],
    handler: type[Handler],
    *,
    lines: str,
    sources: dict[str, Source],
    line_sources: dict[str, Source],
    line_related: tuple[str, ...] = (),
    operation: str | None = None,
    name: str | None = None,
) -> type[ApiLinesResource]:
    """A resource exporting documents of `model` one row per line (`lines` is the related
    name); `line_sources` read from a line, keyed by the line field ("quantity")."""
    list_name = layout_for(handler).list_name
    prefixed = {f"{list_name}.{key}": source for key, source in line_sources.items()}
    fields = _columns(handler, {**sources, **prefixed}, operation)
    attrs = {"handler": handler, "lines": lines, "line_related": line_related}
    return _resource_class(
        name or f"{model.__name__}Resource", ApiLinesResource, model, fields, attrs
    )


class TenantImportResource(ApiColumnsResource):
    """For the few models without a batch handler (tax codes, locations), imported with
    django-import-export's own flow: rows are found and created inside `company` only,
    matched by `code`, and each instance is validated with full_clean (field rules and the
    per-company unique constraint)."""

    def __init__(self, company=None, **kwargs):
        super().__init__(**kwargs)
        self.company = company

    class Meta:
        import_id_fields = ("code",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self):
        return super().get_queryset().filter(company=self.company)

    def init_instance(self, row=None):
        instance = super().init_instance(row)
        instance.company = self.company
        return instance

    def before_import_row(self, row, **kwargs):
        """Take off the apostrophe an export put before a formula character."""
        for key, value in row.items():
            if isinstance(value, str) and value[:1] == "'" and value[1:2] in FORMULA_TRIGGERS:
                row[key] = value[1:]
