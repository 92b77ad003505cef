"""Async jobs: stored in chunks, processed exactly once by workers, swept, read back."""
