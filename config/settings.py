"""Settings for the model registry.

Everything that differs between a laptop and production comes from the
environment: DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

import config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "django-insecure-local-development-only"
    elif config.ONE_OFF_COMMAND:
        # Set by manage.py for commands that serve nothing: a key nobody can know,
        # valid for this process only, is safer than any default.
        SECRET_KEY = secrets.token_urlsafe(50)
    else:  # serving (wsgi, asgi, runserver) without a key: refuse to start
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment, or set DEBUG=1 for local development."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# HTTPS by default in production (DEBUG off); each can be turned off, e.g. behind
# a proxy that terminates TLS and already redirects.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)  # a commitment: opt in
# Behind a TLS-terminating proxy: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO (value "https").
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "import_export",
    "waffle",
    "models_registry",
    "autorouter",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records request.user on history rows written during a web request.
    "simple_history.middleware.HistoryRequestMiddleware",
    "waffle.middleware.WaffleMiddleware",
]

ROOT_URLCONF = "config.urls"

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

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Bounded waits: a database that stalls or vanishes fails a query in seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": int(os.environ.get("DB_CONNECT_TIMEOUT", "3")),
            "options": f"-c statement_timeout={int(os.environ.get('DB_STATEMENT_TIMEOUT_MS', '30000'))}",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": int(os.environ.get("DB_TCP_USER_TIMEOUT_MS", "10000")),
        }
    )

DATABASE_ROUTERS = ["config.routers.SwappedWaffleFlagRouter"]

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "registry"),
            # Fail fast: a Redis outage must not stall reads (snapshots keep serving).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "admin:login"

# django-import-export: importing and exporting need their own permissions
# (models_registry.AIModel Meta.permissions), not just "change".
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
# JSON imports: files above this size are refused before parsing; an upload not confirmed
# within the TTL is deleted.
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(10 * 1024 * 1024)))
IMPORT_UPLOAD_TTL_SECONDS = int(os.environ.get("IMPORT_UPLOAD_TTL_SECONDS", "7200"))
# A file listing more models than this is refused with a message (counted without keeping the
# rows): it bounds an import's memory and time. Split larger files.
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "10000"))
# `manage.py cleanup_import_uploads` (run periodically, e.g. from cron) deletes uploads older
# than this: previews abandoned without confirm or cancel. Keep it above the TTL.
IMPORT_UPLOAD_MAX_AGE_HOURS = float(os.environ.get("IMPORT_UPLOAD_MAX_AGE_HOURS", "24"))

# Catalog sync (manage.py sync_catalog): how long a source URL may take, and how large a source may be.
SYNC_FETCH_TIMEOUT_SECONDS = float(os.environ.get("SYNC_FETCH_TIMEOUT_SECONDS", "30"))
SYNC_MAX_SOURCE_BYTES = int(os.environ.get("SYNC_MAX_SOURCE_BYTES", str(100 * 1024 * 1024)))
# Guard rails: a price moving more than this share, or a run proposing more changes, needs a confirmation.
SYNC_MAX_PRICE_CHANGE = os.environ.get("SYNC_MAX_PRICE_CHANGE", "0.25")
SYNC_MAX_CHANGES = int(os.environ.get("SYNC_MAX_CHANGES", "200"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Path of the static (in-code) catalog that seeds the database and serves
# reads for subjects not yet rolled out to the database.
STATIC_CATALOG_PATH = BASE_DIR / "fixtures" / "static_catalog.json"

# django-waffle: our flag model buckets subjects deterministically (see
# models_registry.rollout.flags). Waffle's stock admin pages are replaced by ours.
WAFFLE_FLAG_MODEL = "models_registry.RolloutFlag"
WAFFLE_ENABLE_ADMIN_PAGES = False

# --- Registry read API (models_registry.registry) ---
# "rollout": per-subject flag use_db_models decides; "database": end state of
# the migration, the static catalog is off the read path; "static": never the DB.
MODELS_REGISTRY_SOURCE = os.environ.get("MODELS_REGISTRY_SOURCE", "rollout")
# How often a process checks the shared catalog version for changes (seconds).
REGISTRY_REFRESH_SECONDS = float(os.environ.get("REGISTRY_REFRESH_SECONDS", "1"))
# With Redis, how often a process also reads the database's version row: the bound within
# which a write whose Redis announcement was lost still reaches every process.
REGISTRY_DB_CHECK_SECONDS = float(os.environ.get("REGISTRY_DB_CHECK_SECONDS", "5"))
# How long the first reads of a process wait for the catalog's first load before they are
# served by the static catalog (seconds); later polls never make a reader wait.
REGISTRY_FIRST_LOAD_TIMEOUT_SECONDS = float(os.environ.get("REGISTRY_FIRST_LOAD_TIMEOUT_SECONDS", "5"))
REGISTRY_BACKGROUND_REFRESH = env_bool("REGISTRY_BACKGROUND_REFRESH", True)

# --- Auto-router (autorouter) ---
# "semantic" (default: packaged embeddings and learned heads, no network), "local" (keyword rules
# only, no dependency) or "llm" (OpenAI-compatible chat completions). Semantic and LLM fall back to
# the keyword rules, and the decision says so.
AUTOROUTER_CLASSIFIER = os.environ.get("AUTOROUTER_CLASSIFIER", "semantic")
# The semantic classifier learns from these files' examples (path, split or None) and from the
# examples editors add in the admin ("teach the router").
AUTOROUTER_EXAMPLE_FILES = [
    (BASE_DIR / "fixtures" / "router_eval" / "prompts.jsonl", "train"),
]
AUTOROUTER_LLM_BASE_URL = os.environ.get("AUTOROUTER_LLM_BASE_URL", "")
AUTOROUTER_LLM_API_KEY = os.environ.get("AUTOROUTER_LLM_API_KEY", "")
AUTOROUTER_LLM_TIMEOUT_SECONDS = float(os.environ.get("AUTOROUTER_LLM_TIMEOUT_SECONDS", "3"))
# Share of decisions stored in the decision log (0 = off).
# Longer messages are classified by their head and tail (route() stays bounded for any size).
AUTOROUTER_MAX_CLASSIFIED_CHARS = int(os.environ.get("AUTOROUTER_MAX_CLASSIFIED_CHARS", "20000"))
# Reads a rollout stage must serve before `rollout advance` may judge its fallback rate.
ROLLOUT_MIN_READS = int(os.environ.get("ROLLOUT_MIN_READS", "1000"))
# The real-traffic gate of `rollout advance` (use_db_models, from the first stage on), on the
# usage records since the stage began, database catalog vs static catalog:
# requests each side must have before anything is judged (fewer: "not enough traffic to judge"),
ROLLOUT_MIN_TRAFFIC_REQUESTS = int(os.environ.get("ROLLOUT_MIN_TRAFFIC_REQUESTS", "200"))
# how far (absolute) the database side's error rate may exceed the static side's (0.02: 2 points),
ROLLOUT_MAX_ERROR_RATE_DELTA = os.environ.get("ROLLOUT_MAX_ERROR_RATE_DELTA", "0.02")
# and how many times the static side's cost per 1,000 tokens it may cost (1.10: at most 10% more;
# cheaper is never refused: a price drop is expected). Decimal strings, compared exactly.
ROLLOUT_MAX_COST_PER_TOKEN_RATIO = os.environ.get("ROLLOUT_MAX_COST_PER_TOKEN_RATIO", "1.10")
AUTOROUTER_DECISION_LOG_RATE = float(os.environ.get("AUTOROUTER_DECISION_LOG_RATE", "0"))

# --- Usage analytics (models_registry.usage) ---
# How registry.record_usage writes: "" (default) inserts each record directly, one statement in
# the caller's process; "redis" appends it to a Redis stream (REDIS_URL) in well under a
# millisecond, and `manage.py ingest_usage` writes the stream to the database in batches.
USAGE_BUFFER = os.environ.get("USAGE_BUFFER", "").strip().lower()
# The stream the "redis" path appends to and the ingester reads (one per deployment).
USAGE_STREAM_KEY = os.environ.get("USAGE_STREAM_KEY", "models_registry:usage")
# Approximate cap of the stream: entries beyond it are trimmed even if not ingested yet, so it
# bounds Redis memory while the ingester is down (~1 KB per entry: 2,000,000 is ~2 GB, hours of
# traffic). Keep it well above what arrives during the longest ingester outage you plan for.
USAGE_STREAM_MAXLEN = int(os.environ.get("USAGE_STREAM_MAXLEN", "2000000"))
# Store subjects as an HMAC-SHA-256 of their key instead of the key itself, keyed by
# USAGE_SUBJECT_SALT (default: SECRET_KEY; set the salt so a SECRET_KEY rotation keeps
# yesterday's and today's subjects the same).
USAGE_HASH_SUBJECTS = env_bool("USAGE_HASH_SUBJECTS", False)
USAGE_SUBJECT_SALT = os.environ.get("USAGE_SUBJECT_SALT", "")
# Records the ingester reads and writes per transaction, at most (a read takes what is there: a
# large batch adds no delay). Larger batches share each rollup row among more records: 5,000
# ingested ~30% faster than 1,000 in bench/usage_bench.py.
USAGE_INGEST_BATCH = int(os.environ.get("USAGE_INGEST_BATCH", "5000"))
# Batches the ingester stores at once, each in its own transaction on its own connection, while
# it reads the next: with 2, one process keeps PostgreSQL busy while it decodes (measured in
# bench/usage_bench.py); more is worth it only with the cores to match.
USAGE_INGEST_WRITERS = int(os.environ.get("USAGE_INGEST_WRITERS", "2"))
# Retention (`manage.py prune_usage`, run daily from cron): raw usage records older than this many
# days are deleted; their aggregates stay in the rollups, which the dashboard reads.
USAGE_RETENTION_DAYS = int(os.environ.get("USAGE_RETENTION_DAYS", "90"))
# Hourly rollups and daily per-subject totals older than this are deleted too (0: kept forever);
# the daily rollups per model and dimensions, small, are always kept.
USAGE_ROLLUP_RETENTION_DAYS = int(os.environ.get("USAGE_ROLLUP_RETENTION_DAYS", "400"))
