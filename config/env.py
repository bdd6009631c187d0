"""Typed readers for environment variables.

Every setting that comes from the environment goes through one of these helpers, so a typo in a
deployment (``DEBUG=ture``, ``DATABASE_URL=postgress://``) stops the process at start-up with a
message that names the variable, instead of silently falling back to a default.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Iterable
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigError(Exception):
    """A configuration value from the environment cannot be used."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the maximum of {maximum}.")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    """One of a fixed set of words, compared case-insensitively and returned as given in ``choices``."""
    allowed = {choice.lower(): choice for choice in choices}
    value = env_str(name, default) or default
    if value.lower() not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of: {', '.join(allowed.values())}.")
    return allowed[value.lower()]


def env_origins(name: str) -> list[str]:
    """A comma-separated list of origins (``https://crm.example.com``), as CSRF_TRUSTED_ORIGINS needs."""
    origins = env_list(name)
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(f"{name} entry {origin!r} is not an origin: write it as https://host[:port].")
    return origins


def env_site_url(name: str, default: str) -> str:
    """The public base URL of this installation (``https://crm.example.com``), for links in emails."""
    value = (env_str(name, default) or default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query:
        raise ConfigError(f"{name}={value!r} is not a base URL: write it as https://host[:port].")
    return value


_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A throttle rate in Django REST framework's notation, e.g. ``60/min`` or ``1000/hour``."""
    value = env_str(name, default) or default
    if not _RATE.match(value):
        raise ConfigError(f"{name}={value!r} is not a rate: write requests/period, e.g. 60/min or 1000/hour.")
    return value


def env_timezone(name: str, default: str = "UTC") -> str:
    value = env_str(name, default) or default
    try:
        zoneinfo.ZoneInfo(value)
    # A folder name such as "Europe" raises IsADirectoryError (an OSError), not ZoneInfoNotFoundError.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"{name}={value!r} is not a known time zone (e.g. 'Europe/Berlin', 'UTC')."
        ) from None
    return value


def env_database(name: str, *, default_sqlite_path: str) -> dict:
    """A Django DATABASES entry from a URL; an SQLite file when the variable is unset."""
    import dj_database_url

    raw = env_str(name)
    if not raw:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": default_sqlite_path,
            # WAL lets the web server and the Celery worker read while the other one writes.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    scheme = urlsplit(raw).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ConfigError(
            f"{name} has the scheme {scheme!r}; Trichter supports postgres://user:pass@host:port/db "
            "and sqlite:///path."
        )
    try:
        config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ConfigError(f"{name} cannot be parsed: {exc}") from None
    if not config.get("NAME"):
        raise ConfigError(f"{name} names no database: add it as the URL's path, e.g. /trichter.")
    return config


def env_redis_url(name: str) -> str:
    raw = env_str(name)
    # The message names only the scheme: the URL may carry a password.
    if raw and urlsplit(raw).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(
            f"{name} has the scheme {urlsplit(raw).scheme!r}; it must be a Redis URL (redis://host:6379/0)."
        )
    return raw


def env_email(name: str) -> dict:
    """Django email settings from a URL.

    ``console://`` (the default) prints mails, ``smtp://user:pass@host:587`` sends through SMTP with
    STARTTLS, ``smtps://`` through implicit TLS, ``locmem://`` keeps them in memory (tests).
    """
    raw = env_str(name, "console://") or "console://"
    parts = urlsplit(raw)
    backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "dummy": "django.core.mail.backends.dummy.EmailBackend",
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "smtps": "django.core.mail.backends.smtp.EmailBackend",
    }
    if parts.scheme not in backends:
        raise ConfigError(
            f"{name} has the scheme {parts.scheme!r}; use one of {', '.join(sorted(backends))}."
        )
    settings = {"EMAIL_BACKEND": backends[parts.scheme]}
    if parts.scheme in {"smtp", "smtps"}:
        if not parts.hostname:
            raise ConfigError(f"{name} names no SMTP host: smtp://user:password@host:587")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 587)
        except ValueError:
            raise ConfigError(f"{name} has an invalid port.") from None
        query = parse_qs(parts.query)
        settings.update(
            EMAIL_HOST=parts.hostname,
            EMAIL_PORT=port,
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_SSL=parts.scheme == "smtps",
            EMAIL_USE_TLS=parts.scheme == "smtp" and query.get("tls", ["1"])[0] not in _FALSE,
            EMAIL_TIMEOUT=10,
        )
    return settings
