import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from bigledger.heap import freeze_startup_heap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigledger.settings")

application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # the views, loaded now rather than by the first request
freeze_startup_heap()
