"""BigLedger Batch: the generic batch engine and what serves it. It never imports an entity app."""
