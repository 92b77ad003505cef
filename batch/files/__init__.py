"""File import and templates for every batch entity: CSV and XLSX readers, the mapping of
spreadsheet rows to batch operations, and the CSV and Excel templates. Entity-agnostic:
everything entity-specific is read from the handler class passed in (its entity,
max_records, operations and schemas)."""
