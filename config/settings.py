"""Trichter settings: one file, driven by environment variables (see README, "Configuration").

With nothing set, Trichter runs on the *embedded default*: an SQLite file and a Celery broker on
the local filesystem, so ``make run`` works on a bare laptop. ``DATABASE_URL`` and ``REDIS_URL``
switch to PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from celery.schedules import crontab
from csp import constants as csp
from django.utils.translation import gettext_lazy as _

from config.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_database,
    env_email,
    env_int,
    env_list,
    env_origins,
    env_rate,
    env_redis_url,
    env_site_url,
    env_str,
    env_timezone,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("TRICHTER_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigError("SECRET_KEY must be set when DEBUG is off (e.g. 50 random characters).")
    SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"  # noqa: S105 (DEBUG only)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "accounts",
    "funnel",
    "scoring",
    "nurturing",
    "sales",
    "offers",
    "customers",
    "content",
    "notifications",
    "analytics",
    "audit",
    "privacy",
    "tracking",
    "webhooks",
    "imports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it answers locked-out login attempts.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", default_sqlite_path=str(VAR_DIR / "trichter.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for the same username from
# the same address, that pair is locked out for AXES_COOLOFF_MINUTES (the login page says so with a
# 429); a successful login resets the count. Locking the pair rather than the username keeps an
# attacker from locking a colleague out from elsewhere. API tokens are not passwords: unaffected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "funnel:table"
LOGOUT_REDIRECT_URL = "login"

# Content-Security-Policy (django-csp): scripts only from our own static files — no inline script,
# no eval, no CDN. Style attributes are allowed (a few bars and dots take their width or colour from
# data), <style> elements are not. Images may come from https too: nurture email previews show the
# pictures an email links to. The tracking snippet runs on customers' sites, under their policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "style-src-attr": [csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:", "https:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "frame-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}

# Internationalisation: English and German; the browser's Accept-Language decides, the user can switch.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email: console in the embedded default, SMTP through EMAIL_URL.
globals().update(env_email("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Trichter <trichter@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where recipients reach this installation: unsubscribe and click-tracking links in nurture emails.
SITE_URL = env_site_url("SITE_URL", "http://127.0.0.1:8000")
# The right-hand side of the Message-IDs of nurture emails (their idempotency key, see nurturing).
TRICHTER_MAIL_DOMAIN = urlsplit(SITE_URL).hostname
# A nurture email marked "sending" longer than this is taken as interrupted and sent again (with the
# same Message-ID); longer than any SMTP timeout.
NURTURE_SEND_LEASE_SECONDS = env_int("NURTURE_SEND_LEASE_SECONDS", 600, minimum=1, maximum=86400)

# Security. Production (DEBUG off) is secure by default and passes `manage.py check --deploy`;
# a TLS-terminating proxy in front sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# check --deploy warns on HSTS without preload; preloading is an operator's decision.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# REST API v1 (see ../shared/API.md).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasAnyRole"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # Behind N reverse proxies, the client address is the N-th from the right of X-Forwarded-For
    # (API throttles, the tracking rate limit). Unset: DRF's default, which trusts the whole header.
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0, minimum=0) if env_str("API_NUM_PROXIES") else None,
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "60/min"),
        "user": env_rate("API_THROTTLE_USER", "1200/min"),
        # Event ingestion: a website or shop may post many batches of up to 1,000 events a minute.
        "events": env_rate("API_THROTTLE_EVENTS", "3000/min"),
    },
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "PAGE_SIZE": 50,
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_MAX_PAGE_SIZE = 500
SPECTACULAR_SETTINGS = {
    "TITLE": "Trichter REST API",
    "DESCRIPTION": (
        "The public REST contract of Trichter, the funnel CRM. Auth: `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: Redis when REDIS_URL is set; otherwise a filesystem transport (no server needed) whose
# folder is shared by the web process and the worker. Every periodic task is listed here.
# "localhost" only silences kombu's "No hostname was supplied" warning; the folder is what counts.
CELERY_BROKER_URL = REDIS_URL or "filesystem://localhost//"
if not REDIS_URL:
    _celery_dir = VAR_DIR / "celery"
    # The filesystem transport needs its folders before the first message is sent or read.
    # "control" holds the exchange tables; kombu's default for it is a folder in the current directory.
    for _sub in ("queue", "processed", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
else:
    # Far-future work is a database row with a due time, never a countdown; an hour covers any task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Applies stored events that no task applied yet (the broker was down, a worker died).
    "scoring-sweep-pending-events": {
        "task": "scoring.tasks.apply_pending_events",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Stores decayed scores whose shown value changed, and notes downward threshold crossings.
    "scoring-refresh-due-scores": {
        "task": "scoring.tasks.refresh_due_scores",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Queues score rebuilds no worker is on (broker down when requested, worker died mid-way).
    "scoring-resume-rebuilds": {
        "task": "scoring.tasks.resume_score_rebuilds",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Folds new stage transitions into the funnel analytics' passages and daily figures.
    "analytics-fold-transitions": {
        "task": "analytics.tasks.fold_transitions",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Folds the trigger-written stage count deltas into one row per stage (see funnel.StageCountDelta).
    "funnel-compact-stage-counts": {
        "task": "funnel.tasks.compact_stage_counts",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Runs nurture steps whose time has come (waits, send windows, retries); new enrollments and woken
    # waits also queue a run at once. The schedule itself is rows in the database (nurturing.engine).
    "nurturing-run-due-steps": {
        "task": "nurturing.tasks.run_due_steps",
        "schedule": 10.0,
        "options": {"expires": 9},
    },
    # Fast-lane requests whose after-commit reaction never ran (worker died): to sales after all.
    "nurturing-sweep-fast-lane": {
        "task": "nurturing.tasks.sweep_fast_lane",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Sends queued nurture emails and retries failed sends (nurturing.delivery).
    "nurturing-deliver-emails": {
        "task": "nurturing.tasks.deliver_emails",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # The R/U/C detector runs on each event; this sweep catches what no event announces: a topic added
    # to a product later, or a contact who became a customer after showing interest (customers.tasks).
    "customers-detect-signals-sweep": {
        "task": "customers.tasks.detect_signals_sweep",
        "schedule": 3600.0,
        "options": {"expires": 3300},
    },
    # Which customers use what they bought; newly lapsed ones get a task or a sequence. Daily, 06:00.
    "customers-check-consumption": {
        "task": "customers.tasks.check_consumption",
        "schedule": crontab(hour=6, minute=0),
        "options": {"expires": 3600},
    },
    # Delight tasks for birthdays and anniversaries of customers, some days ahead. Daily, 06:30.
    "customers-delight-tasks": {
        "task": "customers.tasks.create_delight_tasks",
        "schedule": crontab(hour=6, minute=30),
        "options": {"expires": 3600},
    },
    # Emails each sales rep the overdue tasks and today's, at 07:00 in TIME_ZONE. Once a day per rep (a
    # DigestSent row), so a redelivered or repeated run sends nothing twice.
    "sales-daily-digests": {
        "task": "sales.tasks.send_daily_digests",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": 3600},
    },
    # Call tasks for threshold crossings whose after-commit receiver did not run (worker died).
    "sales-sweep-threshold-tasks": {
        "task": "sales.tasks.sweep_threshold_tasks",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    # Sends due webhook deliveries and their retries (webhooks.delivery); new ones also queue a run.
    "webhooks-deliver": {
        "task": "webhooks.tasks.deliver_webhooks",
        "schedule": 15.0,
        "options": {"expires": 14},
    },
    # Forgets finished webhook deliveries older than WEBHOOK_LOG_DAYS (the delivery log's retention).
    "webhooks-purge-log": {
        "task": "webhooks.tasks.purge_webhook_log",
        "schedule": crontab(hour=3, minute=40),
        "options": {"expires": 3600},
    },
    # CSV imports whose worker died (no batch for 10 minutes) or whose task never arrived.
    "imports-resume-stalled": {
        "task": "imports.tasks.resume_stalled_imports",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}
# The daily digest email of tasks (SALES_DIGEST_ENABLED=0 turns it off).
SALES_DIGEST_ENABLED = env_bool("SALES_DIGEST_ENABLED", True)
# Website tracking: requests per minute (or s/h/d) to the public collect endpoint per site and client.
TRACKING_RATE_LIMIT = env_rate("TRACKING_RATE_LIMIT", "120/min")
# Webhooks may target loopback/private/link-local addresses only when this is on (development, tests).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
# How long the delivery log keeps delivered and failed webhook deliveries.
WEBHOOK_LOG_DAYS = env_int("WEBHOOK_LOG_DAYS", 30, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
    },
    # django-axes logs every login at INFO; lockouts (WARNING) are what an operator needs to see.
    "loggers": {"axes": {"level": "WARNING"}},
}
