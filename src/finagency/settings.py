"""One Settings object, read from the flat FINAGENCY_* environment names of DESIGN.md §8."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "FINAGENCY_"
SECRET_KEY_FILE = "secret_key"
# Values that people copy from examples; refused outside development.
KNOWN_WEAK_SECRETS = {"", "secret", "changeme", "change-me", "dev", "development", "insecure"}
MIN_SECRET_LENGTH = 32
WRITERS = ("template", "openai", "anthropic")


class Environment(StrEnum):
    development = "development"
    staging = "staging"
    production = "production"


class LogFormat(StrEnum):
    json = "json"
    console = "console"


class ConfigurationError(Exception):
    """The configuration cannot be used; each problem names its environment variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _split_list(value: Any) -> Any:
    # Lists are given as "a,b,c" in the environment, not as JSON.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", validate_default=True
    )

    env: Environment = Environment.development
    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    # Every Redis key (cache, broker queues, results) starts with this, so that
    # several deployments or test runs can share one Redis.
    redis_prefix: str = "finagency:"
    secret_key: SecretStr | None = None
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.json
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1"])
    public_base_url: str = "http://127.0.0.1:8000"
    market_providers: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["simulated"])
    writer: str = "template"

    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_connect_timeout: float = Field(default=2.0, gt=0, le=60)
    # Readiness answers within this many seconds even when a dependency hangs.
    ready_timeout: float = Field(default=1.5, gt=0, le=30)

    embedded_worker: bool = True
    worker_metrics_port: int = Field(default=9808, ge=0, le=65535)
    task_soft_time_limit: int = Field(default=240, ge=1)
    task_time_limit: int = Field(default=300, ge=1)

    # Accounts and authentication.
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    jwt_issuer: str = "finagency"
    jwt_audience: str = "finagency-api"
    # Unset: open in development, closed elsewhere; an admin can switch it at run time.
    registration_open: bool | None = None
    require_admin_totp: bool = False
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    password_hash_parallelism: int = Field(default=4, ge=1, le=64)
    login_max_failures: int = Field(default=5, ge=1)
    login_ip_max_failures: int = Field(default=20, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    lockout_seconds: int = Field(default=900, ge=1)
    # The same limit nginx puts on its auth zone, for when the platform runs without nginx.
    auth_rate_per_second: float = Field(default=5.0, gt=0)
    auth_rate_burst: int = Field(default=10, ge=1)
    audit_retention_days: int = Field(default=3 * 365, ge=30)
    password_reset_minutes: int = Field(default=60, ge=5, le=24 * 60)

    # Market data.
    simulated_seed: int = 20260101
    market_timeout: float = Field(default=10.0, gt=0, le=120)
    # Quotes from two providers that differ by more than this fraction mark the field unverified.
    market_crosscheck_tolerance: float = Field(default=0.01, gt=0, lt=1)
    market_refresh_minutes: int = Field(default=5, ge=1, le=1440)
    yahoo_base_url: str = "https://query1.finance.yahoo.com"
    alphavantage_base_url: str = "https://www.alphavantage.co"
    alphavantage_api_key: SecretStr | None = None
    finnhub_base_url: str = "https://finnhub.io/api/v1"
    finnhub_api_key: SecretStr | None = None

    # Research: RSS/Atom feed URLs, comma-separated (file:// URLs work too).
    research_feeds: Annotated[list[str], NoDecode] = Field(default_factory=list)
    research_timeout: float = Field(default=10.0, gt=0, le=120)

    # Content and compliance.
    compliance_profile: str = "us"
    # Unset: authors may not approve their own revisions, except in development.
    forbid_self_approval: bool | None = None

    # Model writers (FINAGENCY_WRITER=openai or anthropic). Any OpenAI-compatible server works
    # (Ollama: http://127.0.0.1:11434/v1, vLLM: http://host:8000/v1).
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = "claude-3-5-haiku-latest"
    model_timeout: float = Field(default=60.0, gt=0, le=600)
    # Retries after a 429, a 5xx or a timeout (the first call is not counted).
    model_max_retries: int = Field(default=2, ge=0, le=10)
    model_max_tokens: int = Field(default=1024, ge=64, le=32000)
    # Prices in US dollars per million tokens, to record the cost of each draft (0: unknown).
    model_input_cost_per_million: float = Field(default=0.0, ge=0)
    model_output_cost_per_million: float = Field(default=0.0, ge=0)

    # Publishing. Each platform's address (tests point them at local servers).
    telegram_base_url: str = "https://api.telegram.org"
    x_base_url: str = "https://api.x.com"
    linkedin_base_url: str = "https://api.linkedin.com"
    publish_timeout: float = Field(default=15.0, gt=0, le=300)
    # A claim on a publication lasts this long; a worker that dies holding it loses it then.
    publish_lease_seconds: float = Field(default=120.0, gt=0, le=3600)
    publish_max_attempts: int = Field(default=5, ge=1, le=50)
    # Backoff after a retryable error: base × 2^(attempt-1), at most max (Retry-After wins).
    publish_backoff_seconds: float = Field(default=30.0, gt=0, le=3600)
    publish_backoff_max_seconds: float = Field(default=3600.0, gt=0, le=86400)
    # How often the dispatcher looks for due publications: at 0.5 s, publish lag p99 stays under
    # 1 s (bench/publishing_dispatch.py measured 1.05 s at 1 s).
    dispatch_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    # Rate budgets per channel type, "type:N/h,N/d,Ns;…" (per hour, per day, minimum spacing);
    # a channel may override its own through the API.
    publish_limits: str = "linkedin:2/h,5/d;x:5/h,20/d;telegram:10/h,50/d"
    # The channel (by name: an email, webhook or telegram channel) that tells the team when a
    # publication fails or is unknown, drafts wait for review, or a credential runs out soon.
    staff_channel: str | None = None
    # Drafts in review longer than this are in the hourly reminder.
    review_reminder_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # Staff are told this many days before a channel's credential runs out.
    publish_credential_warning_days: int = Field(default=7, ge=1, le=90)

    # Media: images attached to drafts. Unset directory: <data dir>/media.
    media_dir: Path | None = None
    media_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)

    # Outgoing mail (password resets). No host: mail is written to <data dir>/mail/.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout: float = Field(default=10.0, gt=0)
    # A private CA for the mail server's certificate (the system's CAs otherwise).
    smtp_ca_file: Path | None = None
    mail_from: str = "AI Finance Agency <noreply@localhost>"

    @field_validator(
        "cors_origins", "trusted_proxies", "market_providers", "research_feeds", mode="before"
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, origins: list[str]) -> list[str]:
        # Credentials (the session cookie) are allowed cross-origin: "*" would mean any site.
        if "*" in origins:
            raise ValueError("list the allowed origins; '*' would let any site act as the user")
        for origin in origins:
            if not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.com")
        return [origin.rstrip("/") for origin in origins]

    @field_validator("market_providers")
    @classmethod
    def _market_providers(cls, providers: list[str]) -> list[str]:
        known = {"simulated", "yahoo", "alphavantage", "finnhub"}
        unknown = [name for name in providers if name not in known]
        if unknown:
            raise ValueError(
                f"unknown provider(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        if not providers:
            raise ValueError("name at least one provider, e.g. simulated")
        return providers

    @field_validator("compliance_profile")
    @classmethod
    def _compliance_profile(cls, value: str) -> str:
        if value not in {"us", "in"}:
            raise ValueError("expected us (SEC/FINRA style) or in (SEBI style)")
        return value

    @field_validator("writer")
    @classmethod
    def _writer(cls, value: str) -> str:
        if value not in WRITERS:
            raise ValueError(f"expected one of {', '.join(WRITERS)}")
        return value

    @field_validator(
        "openai_base_url",
        "anthropic_base_url",
        "telegram_base_url",
        "x_base_url",
        "linkedin_base_url",
    )
    @classmethod
    def _model_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None:
            database_urls(value)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None:
            scheme = value.partition("://")[0]
            if "://" not in value or scheme not in {"redis", "rediss", "unix"}:
                raise ValueError("expected redis://host:port/db, rediss://… (TLS) or unix://…")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _argon2_memory(self) -> Settings:
        if self.password_hash_memory_kib < 8 * self.password_hash_parallelism:
            raise ValueError(
                f"{env_name('password_hash_memory_kib')}: must be at least 8 × "
                f"{env_name('password_hash_parallelism')}"
            )
        return self

    @property
    def embedded(self) -> bool:
        """Embedded mode: no Redis, so background work runs in the API process."""
        return self.redis_url is None

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'finagency.db').resolve()}"

    @property
    def async_database_url(self) -> URL:
        return database_urls(self.effective_database_url)[0]

    @property
    def sync_database_url(self) -> URL:
        return database_urls(self.effective_database_url)[1]

    @property
    def is_sqlite(self) -> bool:
        return self.sync_database_url.get_backend_name() == "sqlite"

    @property
    def effective_media_dir(self) -> Path:
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    @property
    def self_approval_forbidden(self) -> bool:
        if self.forbid_self_approval is not None:
            return self.forbid_self_approval
        return self.env is not Environment.development

    @property
    def registration_default(self) -> bool:
        if self.registration_open is not None:
            return self.registration_open
        return self.env is Environment.development

    def secret(self) -> str:
        if self.secret_key is None:
            raise ConfigurationError([f"{env_name('secret_key')}: not set"])
        return self.secret_key.get_secret_value()


def database_urls(raw: str) -> tuple[URL, URL]:
    """Map a plain database URL to (async URL, sync URL) with the chosen drivers."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError("not a database URL; expected postgresql://… or sqlite:///…") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in {"postgresql", "postgres"}:
        if driver not in {"", "psycopg"}:
            raise ValueError("PostgreSQL is reached through psycopg 3: use postgresql://…")
        if not url.host and "host" not in url.query:
            raise ValueError("a PostgreSQL URL needs a host: postgresql://user@host:5432/name")
        if not url.database:
            raise ValueError("a PostgreSQL URL needs a database name: postgresql://…/name")
        pg = url.set(drivername="postgresql+psycopg")
        return pg, pg
    if backend == "sqlite":
        if driver not in {"", "pysqlite", "aiosqlite"}:
            raise ValueError("SQLite is reached through sqlite3/aiosqlite: use sqlite:///path")
        if not url.database or url.database == ":memory:":
            # The API and its worker are two connections: they must share a file.
            raise ValueError("SQLite needs a file path: sqlite:///var/finagency.db")
        return url.set(drivername="sqlite+aiosqlite"), url.set(drivername="sqlite+pysqlite")
    raise ValueError(f"unsupported database {backend!r}; expected postgresql://… or sqlite:///…")


def _problems_from(error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors():
        message = str(detail["msg"]).removeprefix("Value error, ")
        if detail["loc"]:
            problems.append(f"{env_name(str(detail['loc'][0]))}: {message}")
        else:  # a rule across several variables names them itself
            problems.append(message)
    return problems


def _production_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    if settings.env is Environment.development:
        return problems
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if secret.lower() in KNOWN_WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH:
        problems.append(
            f"{env_name('secret_key')}: a random secret of at least {MIN_SECRET_LENGTH} "
            f"characters is required when {env_name('env')}={settings.env.value}"
        )
    if settings.env is Environment.production and settings.is_sqlite:
        problems.append(
            f"{env_name('database_url')}: SQLite is for development; "
            "set a postgresql:// URL in production"
        )
    return problems


def _unwritable(folder: Path) -> str | None:
    """Why nothing can be written in `folder` (or, until it is made, in its nearest existing
    parent), or None if it can. Leaves nothing behind."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    try:
        with tempfile.TemporaryFile(dir=existing):
            return None
    except OSError as error:
        return error.strerror or str(error)


def _sqlite_folder_problems(settings: Settings) -> list[str]:
    # SQLite writes its WAL and lock files beside the database: a folder it cannot write would
    # let the process start and then fail every request, so it is refused at start.
    if not settings.is_sqlite:
        return []
    folder = Path(settings.sync_database_url.database or "").expanduser().resolve().parent
    problem = _unwritable(folder)
    if problem is None:
        return []
    variable = env_name("data_dir" if settings.database_url is None else "database_url")
    return [f"{variable}: cannot write the SQLite database in {folder}: {problem}"]


def _development_secret(data_dir: Path) -> SecretStr:
    """Generate the development secret once and keep it, readable by its owner only."""
    path = data_dir / SECRET_KEY_FILE
    try:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return SecretStr(path.read_text().strip())
    except OSError as error:
        raise ConfigurationError(
            [
                f"{env_name('data_dir')}: cannot keep the generated secret in {path}: "
                f"{error.strerror or error} (make the folder writable or set "
                f"{env_name('secret_key')})"
            ]
        ) from None


def load_settings(**overrides: Any) -> Settings:
    """Read and check the configuration; raise ConfigurationError naming each bad variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(_problems_from(error)) from None
    problems = _production_problems(settings) + _sqlite_folder_problems(settings)
    if problems:
        raise ConfigurationError(problems)
    if settings.secret_key is None:
        settings.secret_key = _development_secret(settings.data_dir)
    return settings


@lru_cache
def get_settings() -> Settings:
    return load_settings()
