"""Skiff settings, read from the environment.

Embedded default (``make run``): SQLite, the in-memory channel layer and in-process tasks.
``DATABASE_URL`` and ``REDIS_URL`` switch to the production topology (PostgreSQL, Redis as
channel layer and Celery broker). ``SKIFF_ENV=production`` turns on the hardened settings.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from console.owner_only import installation_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SKIFF_ENV = os.environ.get("SKIFF_ENV", "development")
PRODUCTION = SKIFF_ENV == "production"

# Per-installation state kept outside the repository: the platform CA key, the admin
# credential, local cells' data. Created with owner-only permissions.
SKIFF_HOME = Path(os.environ.get("SKIFF_HOME", Path.home() / ".skiff")).expanduser()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise RuntimeError("DJANGO_SECRET_KEY must be set when SKIFF_ENV=production")
    # `make run`: a key of this installation's own, generated once into SKIFF_HOME/secret-key
    # (owner-only), never a key published with the source.
    SECRET_KEY = installation_secret_key(SKIFF_HOME)

# Off unless asked for: the debug pages list URL patterns, settings, SQL and source.
DEBUG = env_bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "console.error_pages.csrf_failure"  # the styled 403 page

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "django_celery_beat",
    "axes",
    # TOTP second factor for platform staff (SKIFF_REQUIRE_STAFF_MFA, console/services/mfa.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "console",
    "fleet",
    "clusters",
    "billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "console.middleware.ContentSecurityPolicyMiddleware",
    # Daphne serves no static files: WhiteNoise does, same-origin (the CSP stays strict).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise, so static files keep their caching: no page or API answer is stored.
    "console.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed a second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Signs a session out after SKIFF_SESSION_IDLE_MINUTES idle or SKIFF_SESSION_MAX_HOURS.
    "console.middleware.SessionLifetimeMiddleware",
    # Platform staff without a verified second factor go to enrol/verify first (when required).
    "console.middleware.StaffMFAMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.CurrentTeamMiddleware",
    # One SKIFF_KAFKA_TIMEOUT for all the Kafka calls of a request (then a 504 naming the cell).
    "clusters.middleware.KafkaCallBudgetMiddleware",
    # Renders an ApplicationError a page let through: a page message, or the error page.
    "console.middleware.ApplicationErrorMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "console.urls"

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
                "console.context_processors.current_team",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "console.asgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # No persistent connections by default: under Daphne, Django runs each request's
    # synchronous code in a thread of its own (so concurrent requests never queue behind one
    # another), and a connection kept for reuse there is never reused: it stays open after
    # its request, one per request, until garbage collection (Django's documentation says to
    # disable them under ASGI). Request end closes each request's connection. A process that
    # does reuse its threads (a Celery worker) may keep them: SKIFF_DB_CONN_MAX_AGE seconds.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=int(os.environ.get("SKIFF_DB_CONN_MAX_AGE", "0"))
        )
    }
else:
    # The embedded default: many threads (requests, sampler, scheduler) and command-line
    # processes write at once. WAL lets readers go on beside the writer; writers wait up to the
    # busy timeout for the lock; BEGIN IMMEDIATE takes the write lock when a transaction opens,
    # so no transaction fails on upgrading a read lock ("database is locked"). The file and its
    # folder are owner-only (console/sqlite/base.py).
    SQLITE_BUSY_TIMEOUT = float(os.environ.get("SKIFF_SQLITE_BUSY_TIMEOUT", "30"))
    DATABASES = {
        "default": {
            "ENGINE": "console.sqlite",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "var" / "skiff.sqlite3")),
            "OPTIONS": {
                "timeout": SQLITE_BUSY_TIMEOUT,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "console.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses authentication while an (email, IP) pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "staticfiles"))
# `make run` has no collectstatic step: with DEBUG off WhiteNoise serves from the finders.
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files need `collectstatic` (the production image runs it).
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Redis: channel layer and Celery broker -------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Snapshots of the topic and consumer-group lists (clusters/services/list_cache.py): read by the
# refresh task in the worker, served by the web processes, so shared through Redis when there is
# one; in the embedded topology everything runs in one process and memory is enough.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "lists": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "skiff-lists",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    ),
}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Without Redis there is no worker process: tasks run in the web process as they are enqueued.
CELERY_TASK_ALWAYS_EAGER = env_bool("SKIFF_TASKS_INLINE", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "console.api.authentication.TeamTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Bounded `limit`/`offset` (a 400 out of range) and a JSON parser with a body size and a
    # nesting depth (console/api/pagination.py, console/api/parsers.py).
    "DEFAULT_PAGINATION_CLASS": "console.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    # JSON only: what the schema documents and every client (CLI, pages' scripts) sends. Form
    # and multipart bodies get a JSON 415; under Daphne a malformed multipart body used to get
    # a bare, empty 400 before DRF saw it (found by the schemathesis run).
    "DEFAULT_PARSER_CLASSES": ["console.api.parsers.BoundedJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "console.api.exceptions.api_exception_handler",
}
# Request bodies: form posts (Django) and API JSON (BoundedJSONParser, a 413 past it). Room for
# the largest message the API produces (8 MiB, base64 in JSON) and no more.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("SKIFF_MAX_REQUEST_BYTES", str(12 * 1024**2)))
SKIFF_MAX_JSON_DEPTH = int(os.environ.get("SKIFF_MAX_JSON_DEPTH", "32"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Skiff API",
    "DESCRIPTION": "Serverless Apache Kafka: clusters, topics, access, usage and billing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The error body (`ErrorResponse`), documented once and used by every error response.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "console.api.exceptions.document_error_body",
    ],
    # The fleet's choice sets (issue 14) by name, so that they and the older sets keep their
    # names (several models have a `state` or a `status`).
    "ENUM_NAME_OVERRIDES": {
        "StateEnum": "clusters.models.Cluster.State",
        "StatusEnum": "billing.models.Invoice.Status",
        "CellKindEnum": "fleet.models.Cell.Kind",
        "CellStateEnum": "fleet.models.Cell.State",
        "CellAdmissionEnum": "fleet.models.Cell.Admission",
        "BrokerStatusEnum": "fleet.models.Broker.State",
        "FleetOperationKindEnum": "fleet.models.FleetOperation.Kind",
        "FleetOperationStateEnum": "fleet.models.FleetOperation.State",
        "FleetOperationModeEnum": "fleet.models.FleetOperation.Mode",
    },
}

# --- Fleet -------------------------------------------------------------------------------
SKIFF_FLEET_DIR = BASE_DIR / "fleet"
SKIFF_LOCAL_CELL_NAME = os.environ.get("SKIFF_LOCAL_CELL", "local")
SKIFF_KAFKA_TIMEOUT = float(os.environ.get("SKIFF_KAFKA_TIMEOUT", "15"))
# The topic sync's config-drift check reads at most this many topics' configs a pass, the
# next ones the next pass (clusters.services.topic_sync._config_turn).
SKIFF_DRIFT_TOPICS_PER_PASS = int(os.environ.get("SKIFF_DRIFT_TOPICS_PER_PASS", "1000"))
# Connection guard rails (issue 13) on every listener of the cells the platform launches
# (fleet.runtime.launcher.ConnectionLimits; README "Environment variables", docs/security.md).
SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP = int(
    os.environ.get("SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP", "200")
)
SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES = os.environ.get(
    "SKIFF_KAFKA_MAX_CONNECTIONS_PER_IP_OVERRIDES", "127.0.0.1:2000"
)
SKIFF_KAFKA_CLIENT_MAX_CONNECTIONS = int(
    os.environ.get("SKIFF_KAFKA_CLIENT_MAX_CONNECTIONS", "2000")
)
SKIFF_KAFKA_CLIENT_MAX_CONNECTION_CREATION_RATE = int(
    os.environ.get("SKIFF_KAFKA_CLIENT_MAX_CONNECTION_CREATION_RATE", "200")
)
SKIFF_KAFKA_FAILED_AUTHENTICATION_DELAY_MS = int(
    os.environ.get("SKIFF_KAFKA_FAILED_AUTHENTICATION_DELAY_MS", "1000")
)
SKIFF_KAFKA_CONNECTIONS_MAX_REAUTH_MS = int(
    os.environ.get("SKIFF_KAFKA_CONNECTIONS_MAX_REAUTH_MS", "300000")
)
SKIFF_MAX_CLUSTERS_PER_TEAM = int(os.environ.get("SKIFF_MAX_CLUSTERS_PER_TEAM", "10"))
# The embedded server (run_console, no Redis) runs queued tasks (provisioning, deletion) in
# this many threads of its process, not in the request that queued them (console/background.py).
SKIFF_EMBEDDED_TASK_WORKERS = int(os.environ.get("SKIFF_EMBEDDED_TASK_WORKERS", "32"))
# Threads that serve HTTP requests in a console process (console/http_handler.py): requests in
# flight past this wait for one. Requests held on purpose (`?wait=`) take at most half.
SKIFF_HTTP_THREADS = int(os.environ.get("SKIFF_HTTP_THREADS", "64"))
# Of those, how many run at once; the others wait for a turn, at most SKIFF_HTTP_QUEUE_SECONDS
# (console/request_turns.py: under one interpreter lock, more at once only makes each slower).
SKIFF_HTTP_CONCURRENCY = int(os.environ.get("SKIFF_HTTP_CONCURRENCY", "2"))
SKIFF_HTTP_QUEUE_SECONDS = float(os.environ.get("SKIFF_HTTP_QUEUE_SECONDS", "1"))
# A server process (the ASGI application, a Celery worker process) freezes the objects it made
# while starting, so that Python's full collections, which stop the process, walk only what came
# after (console/heap.py). The test plugin turns it off: a test process is not a server.
SKIFF_FREEZE_STARTUP_HEAP = env_bool("SKIFF_FREEZE_STARTUP_HEAP", default=True)
# Live throughput sampler: seconds between scrapes (start to start) and per-broker timeout.
# 1 s keeps produce → chart under 2 s (issue 20); a cluster's document is pushed when it changed,
# or every SAMPLER_HEARTBEAT seconds when it did not (0: every pass).
SKIFF_SAMPLER_INTERVAL = float(os.environ.get("SAMPLER_INTERVAL", "1"))
SKIFF_SAMPLER_HEARTBEAT = float(os.environ.get("SAMPLER_HEARTBEAT", "5"))
# Usage rows, checkpoint and snapshot are written every this many seconds (and as a minute closes).
SKIFF_SAMPLER_FLUSH_INTERVAL = float(os.environ.get("SAMPLER_FLUSH_INTERVAL", "5"))
SKIFF_SAMPLER_TIMEOUT = float(os.environ.get("SAMPLER_TIMEOUT", "3"))
# run_console also runs the sampler when REDIS_URL is set (no separate `run_sampler` process).
SKIFF_EMBEDDED_SAMPLER = env_bool("SKIFF_EMBEDDED_SAMPLER", default=False)
# Topic and consumer-group lists (issue 20): read in the background every SKIFF_LISTS_REFRESH
# seconds for clusters whose list was viewed within SKIFF_LISTS_KEEP_WARM seconds.
SKIFF_LISTS_REFRESH = float(os.environ.get("SKIFF_LISTS_REFRESH", "15"))
SKIFF_LISTS_KEEP_WARM = float(os.environ.get("SKIFF_LISTS_KEEP_WARM", "86400"))

# --- Billing --------------------------------------------------------------------------------
# A month's invoices are finalized this long after the month ends (late sampler rows land first).
SKIFF_BILLING_GRACE = timedelta(minutes=int(os.environ.get("SKIFF_BILLING_GRACE_MINUTES", "60")))
# The hourly roll-up recomputes this many recent closed hours again (sampler rows that were late).
SKIFF_BILLING_RECHECK_HOURS = int(os.environ.get("SKIFF_BILLING_RECHECK_HOURS", "2"))
SKIFF_INVOICE_NUMBER_PREFIX = os.environ.get("SKIFF_INVOICE_NUMBER_PREFIX", "SKF")

# --- Email -------------------------------------------------------------------------------
# Default: each message written to an owner-only file under SKIFF_HOME/mail (run_console prints
# the folder), never to the console's output, where invitation and reset links would be read.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "console.mail.OwnerOnlyFileBackend")
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", SKIFF_HOME / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "skiff@localhost")
# For the SMTP backend (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
# How long an invitation link works.
SKIFF_INVITATION_DAYS = int(os.environ.get("SKIFF_INVITATION_DAYS", "7"))

# --- Security ----------------------------------------------------------------------------
# X-Forwarded-For is believed only from this many proxies in front of the app (the production
# reverse proxy appends the client address); with 0 it is ignored, so a client cannot pick the
# address that the audit log records and that login lockout counts.
SKIFF_TRUSTED_PROXIES = int(os.environ.get("SKIFF_TRUSTED_PROXIES", "1" if PRODUCTION else "0"))

# Login lockout (django-axes): 5 failed sign-ins for one email from one address lock that pair
# for 15 minutes; a successful sign-in resets the count.
AXES_FAILURE_LIMIT = int(os.environ.get("SKIFF_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SKIFF_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # the login form's field (it holds the email)
AXES_USERNAME_CALLABLE = "console.audit.login_username"
AXES_CLIENT_IP_CALLABLE = "console.audit.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "console/locked_out.html"
AXES_VERBOSE = False

# Content-Security-Policy (console.middleware): only same-origin scripts, styles and
# connections (WebSockets included); Tabler's CSS embeds its icons as data: SVGs.
SKIFF_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# Second factor for platform staff (console/services/mfa.py, StaffMFAMiddleware): with
# SKIFF_REQUIRE_STAFF_MFA=1 a staff user must enrol a TOTP authenticator and verify a code in
# each session before any page or session-authenticated API call. Off by default; a staff user
# who enrolled anyway is asked for a code all the same. API tokens are not asked (docs/security.md).
SKIFF_REQUIRE_STAFF_MFA = env_bool("SKIFF_REQUIRE_STAFF_MFA", default=False)
OTP_TOTP_ISSUER = "Skiff"
# Each wrong code doubles the wait before the next try: 1 s, 2 s, 4 s… (django-otp throttling).
OTP_TOTP_THROTTLE_FACTOR = int(os.environ.get("SKIFF_MFA_THROTTLE_SECONDS", "1"))

SESSION_COOKIE_HTTPONLY = True
# A signed-in session ends after this long without a request, and this long after sign-in
# whatever happens (console.middleware.SessionLifetimeMiddleware).
SKIFF_SESSION_IDLE_MINUTES = int(os.environ.get("SKIFF_SESSION_IDLE_MINUTES", "120"))
SKIFF_SESSION_MAX_HOURS = int(os.environ.get("SKIFF_SESSION_MAX_HOURS", "12"))
SESSION_COOKIE_AGE = SKIFF_SESSION_MAX_HOURS * 3600
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Secrets in URLs (invitation and password-reset links) are masked in every line logged,
    # the access log included (console.log_redaction.RedactSecretsFilter).
    "filters": {"redact_secrets": {"()": "console.log_redaction.RedactSecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-axes logs every sign-in at INFO; lockouts (WARNING) are what matter.
        "axes": {"level": "WARNING"},
    },
}

# Capacity (issue 13): partition replicas one broker may host. A cell admits clusters and
# partitions while sum(partitions x replication factor) of its topics stays within
# brokers x this budget. The default suits the local cell's default 1024 MB heap (measured:
# 4,800 replicas per broker used about 330 MB of it); size it as README "Sizing a cell" says.
SKIFF_PARTITIONS_PER_BROKER = int(os.environ.get("SKIFF_PARTITIONS_PER_BROKER", "4000"))
# JVM heap per broker of the cells `manage.py fleet up` and `make run` start.
SKIFF_BROKER_HEAP_MB = int(os.environ.get("SKIFF_BROKER_HEAP_MB", "1024"))
# Fleet operations (issue 14, fleet/services/operations.py): partitions per reassignment batch,
# the replication throttle (bytes/s per broker) while a batch copies, the most one batch may
# take, how often a running batch is polled, and when a silent worker's operation is resumed.
SKIFF_REBALANCE_BATCH_SIZE = int(os.environ.get("SKIFF_REBALANCE_BATCH_SIZE", "10"))
SKIFF_REBALANCE_THROTTLE_BYTES = int(
    os.environ.get("SKIFF_REBALANCE_THROTTLE_BYTES", str(50 * 1024 * 1024))
)
SKIFF_REBALANCE_BATCH_TIMEOUT = float(os.environ.get("SKIFF_REBALANCE_BATCH_TIMEOUT", "1800"))
SKIFF_REBALANCE_POLL_SECONDS = float(os.environ.get("SKIFF_REBALANCE_POLL_SECONDS", "1"))
SKIFF_OPERATION_STALE_SECONDS = float(os.environ.get("SKIFF_OPERATION_STALE_SECONDS", "120"))
# The supervisor of local cells (`manage.py fleet supervise`, and a thread of run_console):
# seconds between checks; a broker that died is started again within about this delay.
SKIFF_SUPERVISOR_INTERVAL = float(os.environ.get("SKIFF_SUPERVISOR_INTERVAL", "5"))
# Managed Kafka Connect (issue 19; fleet/services/connect_workers.py, docs/fleet.md): one worker
# JVM per tenant cluster with connectors, its files under SKIFF_CONNECT_HOME, this heap (MB), the
# longest a start may take to answer on REST, and the REST client's timeout per request (s).
SKIFF_CONNECT_HOME = Path(os.environ.get("SKIFF_CONNECT_HOME", SKIFF_HOME / "connect")).expanduser()
SKIFF_CONNECT_HEAP_MB = int(os.environ.get("SKIFF_CONNECT_HEAP_MB", "320"))
SKIFF_CONNECT_READY_TIMEOUT = float(os.environ.get("SKIFF_CONNECT_READY_TIMEOUT", "120"))
SKIFF_CONNECT_TIMEOUT = float(os.environ.get("SKIFF_CONNECT_TIMEOUT", "15"))
# Who runs the workers: "local" (the console, on its host, REST on 127.0.0.1) or "compose" (the
# `connect` container of docker-compose.yml, reached over the compose network as
# SKIFF_CONNECT_REST_HOST on SKIFF_CONNECT_PORT_BASE + the worker's id).
SKIFF_CONNECT_RUNNER = os.environ.get("SKIFF_CONNECT_RUNNER", "local")
SKIFF_CONNECT_REST_HOST = os.environ.get("SKIFF_CONNECT_REST_HOST", "127.0.0.1")
SKIFF_CONNECT_PORT_BASE = int(os.environ.get("SKIFF_CONNECT_PORT_BASE", "18100"))

# Autoscaler (issue 14; fleet/services/autoscaler.py explains each figure). Local and compose
# cells get a broker added when a figure stays above HIGH x its capacity for WINDOW seconds, and
# lose their highest broker-only node when all stay below LOW x capacity for SCALE_DOWN_WINDOW
# seconds (never below MIN_BROKERS); COOLDOWN seconds pass between scaling actions.
SKIFF_AUTOSCALE_ENABLED = env_bool("SKIFF_AUTOSCALE_ENABLED", default=True)
SKIFF_AUTOSCALE_DRY_RUN = env_bool("SKIFF_AUTOSCALE_DRY_RUN", default=False)
# Per-broker capacities: client bytes in and out per second (leader-counted, replication not
# included), partition replicas, and the fraction of a broker's log volume its data may fill.
SKIFF_AUTOSCALE_BROKER_INGRESS_BYTES_PER_SEC = float(
    os.environ.get("SKIFF_AUTOSCALE_BROKER_INGRESS_BYTES_PER_SEC", "50000000")
)
SKIFF_AUTOSCALE_BROKER_EGRESS_BYTES_PER_SEC = float(
    os.environ.get("SKIFF_AUTOSCALE_BROKER_EGRESS_BYTES_PER_SEC", "100000000")
)
SKIFF_AUTOSCALE_PARTITIONS_PER_BROKER = int(
    os.environ.get("SKIFF_AUTOSCALE_PARTITIONS_PER_BROKER", str(SKIFF_PARTITIONS_PER_BROKER))
)
SKIFF_AUTOSCALE_DISK_FRACTION = float(os.environ.get("SKIFF_AUTOSCALE_DISK_FRACTION", "0.8"))
# Disk a broker's data may use, in bytes; 0 = the log volume's size as Kafka reports it (set it
# where the brokers of a cell share one disk, as local cells do).
SKIFF_AUTOSCALE_BROKER_DISK_BYTES = int(os.environ.get("SKIFF_AUTOSCALE_BROKER_DISK_BYTES", "0"))
SKIFF_AUTOSCALE_HIGH_WATERMARK = float(os.environ.get("SKIFF_AUTOSCALE_HIGH_WATERMARK", "0.8"))
SKIFF_AUTOSCALE_LOW_WATERMARK = float(os.environ.get("SKIFF_AUTOSCALE_LOW_WATERMARK", "0.3"))
SKIFF_AUTOSCALE_WINDOW_SECONDS = float(os.environ.get("SKIFF_AUTOSCALE_WINDOW_SECONDS", "600"))
SKIFF_AUTOSCALE_SCALE_DOWN_WINDOW_SECONDS = float(
    os.environ.get("SKIFF_AUTOSCALE_SCALE_DOWN_WINDOW_SECONDS", "3600")
)
SKIFF_AUTOSCALE_COOLDOWN_SECONDS = float(os.environ.get("SKIFF_AUTOSCALE_COOLDOWN_SECONDS", "900"))
SKIFF_AUTOSCALE_MIN_BROKERS = max(3, int(os.environ.get("SKIFF_AUTOSCALE_MIN_BROKERS", "3")))
SKIFF_AUTOSCALE_MAX_BROKERS = int(os.environ.get("SKIFF_AUTOSCALE_MAX_BROKERS", "9"))
# Seconds between evaluations (console/periodic.py reads the same variable).
SKIFF_AUTOSCALE_INTERVAL = float(os.environ.get("SKIFF_AUTOSCALE_INTERVAL", "60"))
# Routine decisions ("no action", cooldown, busy) kept per cell; scaling decisions are all kept.
SKIFF_AUTOSCALE_HISTORY = int(os.environ.get("SKIFF_AUTOSCALE_HISTORY", "720"))
