"""The web and worker processes freeze their start-up heap (bigledger.heap), so full
collections skip the objects Django and the apps are made of."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def frozen_after(code: str) -> int:
    """How many objects a fresh interpreter holds frozen after running `code`."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bigledger.settings"}
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport gc\nprint(gc.get_freeze_count())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(out.stdout.split()[-1])


def test_the_wsgi_application_freezes_django_its_apps_and_their_views():
    frozen = frozen_after("import bigledger.wsgi")

    # Django, DRF, the apps and the URL configuration's views: well over 50,000 objects.
    assert frozen > 50_000
    assert frozen_after("import django; django.setup()") == 0  # nothing freezes by itself


def test_each_worker_pool_process_freezes_its_heap_once_started():
    started = (
        "import django; django.setup()\n"
        "from bigledger.celery import app\n"
        "from celery.signals import worker_process_init\n"
        "worker_process_init.send(sender=None)"
    )

    assert frozen_after(started) > 50_000
