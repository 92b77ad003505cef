"""Settings read from the environment (12-factor).

With nothing set, the project runs embedded: SQLite in WAL mode and Celery's filesystem
broker, both under var/. Set DATABASE_URL, CELERY_BROKER_URL and REDIS_URL for PostgreSQL
and Redis.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BIGLEDGER_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

# Served over HTTPS by a proxy that terminates TLS (docs/operations.md, "The reverse proxy"):
# cookies only over HTTPS, and HSTS when asked. The scheme itself comes from gunicorn, which
# takes the proxy's X-Forwarded-Proto from the addresses in its FORWARDED_ALLOW_IPS alone.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 0))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files, offline
    "import_export",
    "bigledger.apps.BigLedgerConfig",
    "batch.apps.BatchConfig",
    "ledger.apps.LedgerConfig",
    "inventory.apps.InventoryConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bigledger.urls"
WSGI_APPLICATION = "bigledger.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: PostgreSQL through DATABASE_URL, else an embedded SQLite file in WAL mode.
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "bigledger.sqlite3",
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and shared counters: Redis through REDIS_URL, else local memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: a broker through CELERY_BROKER_URL, else the filesystem broker under var/.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("in", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Kuala_Lumpur")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Django's ModelBackend, reading a user's permissions in one statement (bigledger.auth).
AUTHENTICATION_BACKENDS = ["bigledger.auth.ModelBackend"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["bigledger.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["bigledger.api.renderers.DecimalJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "bigledger.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "bigledger.api.pagination.EnvelopePagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "bigledger.api.errors.envelope_exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# OpenAPI 3 at /v1/schema, interactive docs at /v1/docs (assets from drf-spectacular-sidecar).
SPECTACULAR_SETTINGS = {
    "TITLE": "BigLedger Batch API",
    "DESCRIPTION": (
        "Bulk operations for BigLedger: batches of up to the entity's maximum records "
        "processed at once, or asynchronously as jobs. Authenticate with "
        "`Authorization: Bearer <api key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "batch.api.openapi.hooks.postprocess_batch_schema",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PartyStatusEnum": "ledger.models.Status",
        "DocumentStatusEnum": "ledger.models.DocumentStatus",
    },
}

# Batch limits.
BATCH_MAX_BODY_BYTES = int(os.environ.get("BATCH_MAX_BODY_BYTES", 64 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = BATCH_MAX_BODY_BYTES
BATCH_ASYNC_MAX_OPERATIONS = int(os.environ.get("BATCH_ASYNC_MAX_OPERATIONS", 100_000))
# POST /v1/batch (operations of several entities) answers at once up to this many.
BATCH_COMPOSITE_SYNC_MAX_OPERATIONS = int(
    os.environ.get("BATCH_COMPOSITE_SYNC_MAX_OPERATIONS", 1_000)
)
BATCH_FILE_MAX_ROWS = int(os.environ.get("BATCH_FILE_MAX_ROWS", 1_000_000))
# An uploaded sheet spanning at most this many cells (rows x columns) is read with calamine,
# which holds it whole in memory (batch.files.xlsx_fast); a larger one is streamed.
BATCH_XLSX_FAST_MAX_CELLS = int(os.environ.get("BATCH_XLSX_FAST_MAX_CELLS", 2_000_000))
BATCH_MAX_UPLOAD_BYTES = int(os.environ.get("BATCH_MAX_UPLOAD_BYTES", 100 * 1024 * 1024))
BATCH_MAX_CONCURRENT_JOBS = int(os.environ.get("BATCH_MAX_CONCURRENT_JOBS", 3))
# Per company, shared across processes through the cache (Redis): "N/s|min|hour|day".
BATCH_RATE_LIMIT = os.environ.get("BATCH_RATE_LIMIT", "10/min")
BATCH_LARGE_RATE_LIMIT = os.environ.get("BATCH_LARGE_RATE_LIMIT", "5/min")
BATCH_LARGE_BATCH_RECORDS = int(os.environ.get("BATCH_LARGE_BATCH_RECORDS", 100))
# Idempotency-Key: responses kept 24 h; an in-flight marker outlives any sync batch.
BATCH_IDEMPOTENCY_TTL_SECONDS = int(os.environ.get("BATCH_IDEMPOTENCY_TTL_SECONDS", 24 * 3600))
BATCH_IDEMPOTENCY_LOCK_SECONDS = int(os.environ.get("BATCH_IDEMPOTENCY_LOCK_SECONDS", 600))
# A preview (a file run with validateOnly) is kept this long for its screen, then swept.
BATCH_PREVIEW_TTL_SECONDS = int(os.environ.get("BATCH_PREVIEW_TTL_SECONDS", 24 * 3600))
# Days a finished job's results (and stored operations and file cells) are kept; 0: forever.
BATCH_RESULTS_RETENTION_DAYS = int(os.environ.get("BATCH_RESULTS_RETENTION_DAYS", 0))
BATCH_JOB_STALE_SECONDS = int(os.environ.get("BATCH_JOB_STALE_SECONDS", 30))
BATCH_JOB_MAX_ATTEMPTS = int(os.environ.get("BATCH_JOB_MAX_ATTEMPTS", 5))
# How many more worker processes a job asks to help run its chunks (0: one process per job).
BATCH_JOB_HELPERS = int(os.environ.get("BATCH_JOB_HELPERS", 3))
# A helper's turn: then it gives its process back and queues again (batch.jobs.processing).
BATCH_HELPER_SLICE_SECONDS = float(os.environ.get("BATCH_HELPER_SLICE_SECONDS", 2))
# Each worker's main process sweeps this often (batch.worker; 0 turns it off); beat, which is
# optional, sends the same sweep as a task every BATCH_SWEEP_SECONDS.
BATCH_WORKER_SWEEP_SECONDS = float(os.environ.get("BATCH_WORKER_SWEEP_SECONDS", 2))
# The change feed trails the oldest open transaction by this much (bigledger/api/feed.py):
# room for the application servers' clocks to run ahead of the database's.
CHANGE_FEED_MARGIN_SECONDS = float(os.environ.get("CHANGE_FEED_MARGIN_SECONDS", 1))
BATCH_SWEEP_SECONDS = float(os.environ.get("BATCH_SWEEP_SECONDS", 10))
BATCH_WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("BATCH_WEBHOOK_RETRY_BASE_SECONDS", 30))
BATCH_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("BATCH_WEBHOOK_MAX_ATTEMPTS", 8))
BATCH_WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("BATCH_WEBHOOK_ALLOW_PRIVATE_URLS", False)
# A pending delivery this long past due lost its message and is sent again.
BATCH_WEBHOOK_OVERDUE_SECONDS = float(os.environ.get("BATCH_WEBHOOK_OVERDUE_SECONDS", 300))
CELERY_BEAT_SCHEDULE = {
    "sweep-batch-jobs": {"task": "batch.sweep_jobs", "schedule": BATCH_SWEEP_SECONDS},
    "resend-overdue-webhooks": {
        "task": "batch.resend_overdue_webhooks",
        "schedule": 60.0,
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
