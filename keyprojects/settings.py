"""Settings for keyprojects, read from environment variables.

Defaults run a fresh clone on one machine: SQLite under var/, a secret key generated once
into var/secret_key. Production sets DATABASE_URL (PostgreSQL), ALLOWED_HOSTS and friends.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KEYPROJECTS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        # Generated once; every gunicorn worker and the worker process then share it.
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", "0")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "keyprojects.security.admin_config.AdminConfig",  # django.contrib.admin with 三员分立 enforced
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "keyprojects.org",
    "keyprojects.security",
    "keyprojects.rollups",
    "keyprojects.workcal",
    "keyprojects.projects",
    "keyprojects.audit",
    "keyprojects.progress",
    "keyprojects.notify",
    "keyprojects.problems",
    "keyprojects.visits",
    "keyprojects.dashboard",
    "keyprojects.funding",
    "keyprojects.evaluation",
    "keyprojects.bulletins",
    "keyprojects.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "keyprojects.lib.middleware.RequestIdMiddleware",
    "keyprojects.lib.middleware.SecurityHeadersMiddleware",
    "keyprojects.lib.middleware.DatabaseUnavailableMiddleware",  # 503, not 500, while the database is away
    "django.contrib.sessions.middleware.SessionMiddleware",
    "keyprojects.lib.middleware.ChineseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "keyprojects.audit.security.SecurityEventMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "keyprojects.security.middleware.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Lockout after repeated failures (django-axes), per username; limits come from the SecurityPolicy.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ENABLED = envbool("AXES_ENABLED", "1")
AXES_FAILURE_LIMIT = "keyprojects.security.views.failure_limit"
AXES_COOLOFF_TIME = "keyprojects.security.views.cool_off"
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "keyprojects.security.views.lockout"
AXES_VERBOSE = False
# 等保 asks for the account to be locked after repeated failures whatever the address: lock by
# username (axes warns that this lets anyone lock an account; the 安全管理员 unlocks it).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
OTP_TOTP_ISSUER = "重大项目监管平台"

ROOT_URLCONF = "keyprojects.urls"
WSGI_APPLICATION = "keyprojects.wsgi.application"

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
                "django.template.context_processors.i18n",
                "keyprojects.org.context_processors.platform",
                "keyprojects.notify.context_processors.unread_notifications",
            ],
        },
    },
]

# Database: SQLite file under var/ by default (WAL, IMMEDIATE transactions);
# DATABASE_URL=postgres://... for PostgreSQL with psycopg 3 and a connection pool.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})
        # JIT compilation costs more than it saves on our short roll-up queries (measured: 1 s vs 0.3 s).
        DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")
        if envbool("DB_POOL", "1"):
            DATABASES["default"]["OPTIONS"]["pool"] = {
                "min_size": int(os.environ.get("DB_POOL_MIN", "1")),
                "max_size": int(os.environ.get("DB_POOL_MAX", "8")),
            }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "keyprojects.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA mmap_size=268435456;"
                    "PRAGMA cache_size=-65536;"
                    "PRAGMA busy_timeout=20000;"
                ),
            },
            # Keep each thread's connection between requests: opening one and running the PRAGMAs above
            # on every request is measurable on the list pages (PostgreSQL uses the pool instead).
            "CONN_MAX_AGE": int(os.environ.get("CONN_MAX_AGE", "300")),
            "CONN_HEALTH_CHECKS": True,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "org.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    # Length, character classes and history follow the SecurityPolicy the 安全管理员 sets.
    {"NAME": "keyprojects.security.validators.ComplexityValidator"},
    {"NAME": "keyprojects.security.validators.HistoryValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
# HTTPS=1 when the platform is served over TLS (nginx in front, see docs/deployment.md): secure
# cookies, redirect to https, HSTS, and trust nginx's X-Forwarded-Proto. `make run` on one machine
# serves plain HTTP on 127.0.0.1 and leaves it off.
HTTPS = envbool("HTTPS", "0")
SESSION_COOKIE_SECURE = HTTPS or envbool("SECURE_COOKIES", "0")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts anywhere (data goes through json_script); styles may be inline (ECharts, htmx).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "keyprojects" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or envbool("TESTING", "0")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(VAR_DIR / "media")))
# Uploaded files are never served by URL: no route exists under MEDIA_URL; views read them back
# after an access check.
MEDIA_URL = "/_media/"

FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(20 * 1024 * 1024)))

# Demo mode: seed_demo creates demo users only when this is on (default on for one machine).
DEMO_MODE = envbool("DEMO_MODE", "1")
PLATFORM_NAME = _("重大项目全生命周期监管平台")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

NINJA_PAGINATION_PER_PAGE = 25

# Notifications: e-mail goes to the console unless an SMTP backend is configured.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "keyprojects@localhost")
