import os
import stat
from pathlib import Path

import pytest

from finagency.settings import ConfigurationError, Environment, load_settings

STRONG_SECRET = "x" * 48


def test_defaults_are_embedded_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.env is Environment.development
    assert settings.embedded
    assert settings.is_sqlite
    assert settings.sync_database_url.database == str((tmp_path / "finagency.db").resolve())
    assert settings.async_database_url.drivername == "sqlite+aiosqlite"
    assert settings.sync_database_url.drivername == "sqlite+pysqlite"


def test_reads_the_flat_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FINAGENCY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FINAGENCY_ENV", "staging")
    monkeypatch.setenv("FINAGENCY_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("FINAGENCY_DATABASE_URL", "postgresql://app:pw@db.internal:5432/fin")
    monkeypatch.setenv("FINAGENCY_REDIS_URL", "rediss://cache.internal:6380/1")
    monkeypatch.setenv("FINAGENCY_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("FINAGENCY_TRUSTED_PROXIES", "10.0.0.1,10.0.0.2")
    monkeypatch.setenv("FINAGENCY_LOG_LEVEL", "debug")
    monkeypatch.setenv("FINAGENCY_PUBLIC_BASE_URL", "https://fin.example/")
    settings = load_settings()
    assert settings.env is Environment.staging
    assert settings.async_database_url.drivername == "postgresql+psycopg"
    assert settings.async_database_url.host == "db.internal"
    assert not settings.embedded
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxies == ["10.0.0.1", "10.0.0.2"]
    assert settings.log_level == "DEBUG"
    assert settings.public_base_url == "https://fin.example"


def test_an_empty_value_counts_as_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FINAGENCY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FINAGENCY_REDIS_URL", "")
    monkeypatch.setenv("FINAGENCY_DATABASE_URL", "")
    monkeypatch.setenv("FINAGENCY_LOG_LEVEL", "")
    settings = load_settings()
    assert settings.embedded
    assert settings.is_sqlite
    assert settings.log_level == "INFO"


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db?sslmode=require", "postgresql+psycopg"),
        ("sqlite:///some/file.db", "sqlite+aiosqlite"),
    ],
)
def test_plain_urls_get_the_chosen_drivers(url: str, driver: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=url, data_dir=tmp_path)
    assert settings.async_database_url.drivername == driver


def test_tls_options_in_the_database_url_reach_the_driver(tmp_path: Path) -> None:
    settings = load_settings(
        database_url="postgresql://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem",
        data_dir=tmp_path,
    )
    assert settings.sync_database_url.query == {"sslmode": "verify-full", "sslrootcert": "/ca.pem"}


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("database_url", "not a url", "FINAGENCY_DATABASE_URL"),
        ("database_url", "mysql://u@h/db", "FINAGENCY_DATABASE_URL"),
        ("database_url", "postgresql+asyncpg://u@h/db", "FINAGENCY_DATABASE_URL"),
        ("database_url", "sqlite://", "FINAGENCY_DATABASE_URL"),
        ("redis_url", "localhost:6379", "FINAGENCY_REDIS_URL"),
        ("env", "prod", "FINAGENCY_ENV"),
        ("log_level", "loud", "FINAGENCY_LOG_LEVEL"),
        ("db_pool_size", "0", "FINAGENCY_DB_POOL_SIZE"),
        ("public_base_url", "fin.example", "FINAGENCY_PUBLIC_BASE_URL"),
        ("password_hash_memory_kib", "16", "FINAGENCY_PASSWORD_HASH_MEMORY_KIB"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv("FINAGENCY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(f"FINAGENCY_{variable.upper()}", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert any(problem.startswith(f"{named}:") for problem in caught.value.problems)


def test_development_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path).secret()
    second = load_settings(data_dir=tmp_path).secret()
    assert first == second
    assert len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


@pytest.mark.parametrize("secret", [None, "changeme", "short-but-not-default"])
def test_production_refuses_a_missing_or_weak_secret(tmp_path: Path, secret: str | None) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            env="production",
            data_dir=tmp_path,
            secret_key=secret,
            database_url="postgresql://u@h/db",
        )
    assert [p.split(":")[0] for p in caught.value.problems] == ["FINAGENCY_SECRET_KEY"]
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env="production", data_dir=tmp_path, secret_key=STRONG_SECRET)
    assert [p.split(":")[0] for p in caught.value.problems] == ["FINAGENCY_DATABASE_URL"]


def test_production_accepts_a_strong_secret_and_postgresql(tmp_path: Path) -> None:
    settings = load_settings(
        env="production",
        data_dir=tmp_path,
        secret_key=STRONG_SECRET,
        database_url="postgresql://u@h/db",
    )
    assert settings.secret() == STRONG_SECRET
