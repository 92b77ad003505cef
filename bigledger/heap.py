"""The heap a process starts with, taken out of the garbage collector's sight.

A web or worker process holds some 150,000 objects once Django, the URL configuration and
the apps are loaded, and nearly all of them live as long as the process. Every full
collection walked them all: 60-100 ms, once in every twenty sync batches or so and several
times in each big job or file import (a quarter of the time a 10,000-row CSV took to
store). Frozen after start-up (gc.freeze), they are skipped; what the requests and jobs
make afterwards is collected as before."""

import gc


def freeze_startup_heap() -> None:
    """Collect what start-up left behind, then freeze what is still alive."""
    gc.collect()
    gc.freeze()
