"""The engine: envelope, codes, fields, records, handlers, executor, bulk writes. No HTTP."""
