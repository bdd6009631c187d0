"""Configuration from the environment: the helpers in config/env.py and what config/settings.py makes of
them. Whole-settings checks run in a subprocess with a clean environment, because the settings module
reads the environment once, at import."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_database,
    env_email,
    env_int,
    env_origins,
    env_rate,
    env_redis_url,
    env_timezone,
)

BASE_DIR = Path(__file__).resolve().parent.parent


# --- the helpers reject bad values with a message that names the variable ---------------------------


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        ("DEBUG", "ture", lambda: env_bool("DEBUG")),
        ("DEBUG", "2", lambda: env_bool("DEBUG")),
        ("SECURE_HSTS_SECONDS", "-1", lambda: env_int("SECURE_HSTS_SECONDS", 0, minimum=0)),
        ("WORKERS", "65", lambda: env_int("WORKERS", 2, minimum=1, maximum=64)),
        ("WORKERS", "two", lambda: env_int("WORKERS", 2)),
        ("TIME_ZONE", "Mars/Base", lambda: env_timezone("TIME_ZONE")),
        ("TIME_ZONE", "Europe", lambda: env_timezone("TIME_ZONE")),
        ("TIME_ZONE", "../../etc/passwd", lambda: env_timezone("TIME_ZONE")),
        (
            "DATABASE_URL",
            "mysql://u:p@db/trichter",
            lambda: env_database("DATABASE_URL", default_sqlite_path="x"),
        ),
        (
            "DATABASE_URL",
            "postgres://u:p@db:5432",
            lambda: env_database("DATABASE_URL", default_sqlite_path="x"),
        ),
        ("REDIS_URL", "http://cache:6379/0", lambda: env_redis_url("REDIS_URL")),
        ("EMAIL_URL", "smtp://", lambda: env_email("EMAIL_URL")),
        ("EMAIL_URL", "smtp://user:pw@:587", lambda: env_email("EMAIL_URL")),
        ("EMAIL_URL", "smtp://mail.example.com:99999", lambda: env_email("EMAIL_URL")),
        ("EMAIL_URL", "sendmail://localhost", lambda: env_email("EMAIL_URL")),
        ("LOG_LEVEL", "LOUD", lambda: env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING"])),
        ("API_THROTTLE_USER", "lots", lambda: env_rate("API_THROTTLE_USER", "60/min")),
        ("API_THROTTLE_USER", "60/fortnight", lambda: env_rate("API_THROTTLE_USER", "60/min")),
        ("CSRF_TRUSTED_ORIGINS", "crm.example.com", lambda: env_origins("CSRF_TRUSTED_ORIGINS")),
    ],
)
def test_bad_value_is_rejected_naming_the_variable(monkeypatch, name, value, read):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        read()
    assert name in str(excinfo.value)


def test_url_errors_do_not_echo_passwords(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://:s3cret-pw@cache:6379/0")
    monkeypatch.setenv("DATABASE_URL", "mysql://user:s3cret-pw@db/trichter")
    for read in (
        lambda: env_redis_url("REDIS_URL"),
        lambda: env_database("DATABASE_URL", default_sqlite_path="x"),
    ):
        with pytest.raises(ConfigError) as excinfo:
            read()
        assert "s3cret-pw" not in str(excinfo.value)


# --- and accept good ones ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("off", False), ("", False)],
)
def test_bool_values(monkeypatch, value, expected):
    monkeypatch.setenv("DEBUG", value)
    assert env_bool("DEBUG") is expected


def test_unset_values_take_their_defaults(monkeypatch):
    for name in ("DEBUG", "WORKERS", "TIME_ZONE", "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    assert env_bool("DEBUG", True) is True
    assert env_int("WORKERS", 2, minimum=1) == 2
    assert env_timezone("TIME_ZONE", "UTC") == "UTC"
    assert env_database("DATABASE_URL", default_sqlite_path="/tmp/t.sqlite3")["ENGINE"].endswith("sqlite3")
    assert env_redis_url("REDIS_URL") == ""
    assert env_email("EMAIL_URL") == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    assert env_choice("LOG_LEVEL", "INFO", ["INFO", "DEBUG"]) == "INFO"


def test_good_values_are_read(monkeypatch):
    monkeypatch.setenv("WORKERS", " 64 ")
    monkeypatch.setenv("TIME_ZONE", "Europe/Berlin")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    monkeypatch.setenv("API_THROTTLE_USER", "1000/hour")
    monkeypatch.setenv("CSRF_TRUSTED_ORIGINS", "https://crm.example.com, http://localhost:8000")
    monkeypatch.setenv("REDIS_URL", "rediss://:pw@cache.example.com:6380/2")
    assert env_int("WORKERS", 2, minimum=1, maximum=64) == 64
    assert env_timezone("TIME_ZONE") == "Europe/Berlin"
    assert env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING"]) == "WARNING"
    assert env_rate("API_THROTTLE_USER", "60/min") == "1000/hour"
    assert env_origins("CSRF_TRUSTED_ORIGINS") == ["https://crm.example.com", "http://localhost:8000"]
    assert env_redis_url("REDIS_URL") == "rediss://:pw@cache.example.com:6380/2"


def test_postgres_url_is_parsed(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://trichter:p%40ss@db.example.com:5433/trichter")
    config = env_database("DATABASE_URL", default_sqlite_path="unused")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("trichter", "trichter", "p@ss")
    assert (config["HOST"], config["PORT"]) == ("db.example.com", 5433)


def test_smtp_url_is_parsed_into_host_port_user_password_and_tls(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://crm%40example.com:p%40ss%3Aword@mail.example.com:2525")
    settings = env_email("EMAIL_URL")
    assert settings["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert settings["EMAIL_HOST"] == "mail.example.com"
    assert settings["EMAIL_PORT"] == 2525
    assert settings["EMAIL_HOST_USER"] == "crm@example.com"
    assert settings["EMAIL_HOST_PASSWORD"] == "p@ss:word"
    assert settings["EMAIL_USE_TLS"] is True
    assert settings["EMAIL_USE_SSL"] is False


@pytest.mark.parametrize(
    ("url", "port", "tls", "ssl"),
    [
        ("smtp://mail.example.com", 587, True, False),
        ("smtp://mail.example.com:25?tls=0", 25, False, False),
        ("smtps://mail.example.com", 465, False, True),
    ],
)
def test_smtp_defaults_and_tls_modes(monkeypatch, url, port, tls, ssl):
    monkeypatch.setenv("EMAIL_URL", url)
    settings = env_email("EMAIL_URL")
    assert (settings["EMAIL_PORT"], settings["EMAIL_USE_TLS"], settings["EMAIL_USE_SSL"]) == (port, tls, ssl)


# --- the settings module as a whole, imported fresh in a clean environment --------------------------


def _clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """Only what Python needs, plus the given variables: nothing leaks in from the caller (or from CI)."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "SYSTEMROOT") if key in os.environ}
    env["TRICHTER_VAR_DIR"] = str(tmp_path / "var")
    env.update(values)
    return env


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


_DESCRIBE = """
import json, django
django.setup()
from django.conf import settings as s
from config.celery import app
print(json.dumps({
    "debug": s.DEBUG,
    "engine": s.DATABASES["default"]["ENGINE"],
    "name": str(s.DATABASES["default"]["NAME"]),
    "cache": s.CACHES["default"]["BACKEND"],
    "broker": app.conf.broker_url,
    "transport_options": app.conf.broker_transport_options,
    "email": s.EMAIL_BACKEND,
    "ssl_redirect": s.SECURE_SSL_REDIRECT,
}))
"""


def _describe(tmp_path: Path, **values: str) -> dict:
    result = _python(_DESCRIBE, _clean_env(tmp_path, DJANGO_SETTINGS_MODULE="config.settings", **values))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off(tmp_path):
    for debug in ({}, {"DEBUG": "0"}):
        result = _python("import config.settings", _clean_env(tmp_path, **debug))
        assert result.returncode != 0
        assert "ConfigError: SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "ture"),
        ("DATABASE_URL", "mysql://db/trichter"),
        ("TIME_ZONE", "Mars/Base"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_settings_refuse_to_start_with_a_bad_value(tmp_path, name, value):
    result = _python("import config.settings", _clean_env(tmp_path, SECRET_KEY="x" * 50, **{name: value}))
    assert result.returncode != 0
    assert f"ConfigError: {name}" in result.stderr


def test_embedded_default_is_sqlite_and_a_filesystem_broker(tmp_path):
    described = _describe(tmp_path, DEBUG="1")
    assert described["engine"] == "django.db.backends.sqlite3"
    assert described["name"] == str(tmp_path / "var" / "trichter.sqlite3")
    assert described["broker"].startswith("filesystem://")
    queue = Path(described["transport_options"]["data_folder_in"])
    assert queue == tmp_path / "var" / "celery" / "queue"
    assert queue.is_dir(), "the filesystem transport needs its folder before the first message"
    assert described["transport_options"]["data_folder_out"] == str(queue)
    assert described["transport_options"]["control_folder"] == str(tmp_path / "var" / "celery" / "control")
    assert described["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert described["email"] == "django.core.mail.backends.console.EmailBackend"


def test_urls_switch_to_postgresql_and_redis(tmp_path):
    described = _describe(
        tmp_path,
        DEBUG="1",
        DATABASE_URL="postgres://trichter@db.invalid:5432/trichter",
        REDIS_URL="redis://cache.invalid:6379/3",
    )
    assert described["engine"] == "django.db.backends.postgresql"
    assert described["name"] == "trichter"
    assert described["broker"] == "redis://cache.invalid:6379/3"
    assert described["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert not (tmp_path / "var" / "celery").exists()


def test_production_defaults_are_secure(tmp_path):
    described = _describe(tmp_path, SECRET_KEY="x" * 50)
    assert described["debug"] is False
    assert described["ssl_redirect"] is True


def test_production_settings_pass_check_deploy(tmp_path):
    env = _clean_env(
        tmp_path,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.com",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
