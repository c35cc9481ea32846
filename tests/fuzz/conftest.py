"""The app the schema fuzzing calls: one per backend and role, on a database of its own.

Each role gets its own database so that what one role's fuzzing does (an admin disabling user 1,
pausing publishing) never changes what another role's calls can reach. The app runs with its
lifespan inside schemathesis's ASGI client (its own event loop thread), as `serve` would run it,
so its database engine is its own and its commits are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.app import create_app
from finagency.db import Database
from finagency.settings import Settings, load_settings
from tests.conftest import migrate_url
from tests.fixtures.accounts import FAST_HASHING, UserRef, bearer, make_user
from tests.fixtures.market import simulated_history, simulated_snapshot
from tests.fixtures.services import create_database, drop_database, random_name

ROLES = [Role.viewer, Role.editor, Role.admin]
HISTORY_DAYS = 40  # enough bars for the indicators (SMA 20) to answer


@dataclass(frozen=True)
class Caller:
    """A signed-in user of one role; each call gets a fresh token, since fuzzing may log out."""

    settings: Settings
    user: UserRef

    def headers(self) -> dict[str, str]:
        return bearer(self.settings, self.user)


@pytest.fixture(scope="session", params=ROLES, ids=[role.value for role in ROLES])
def role(request: pytest.FixtureRequest) -> Role:
    return Role(request.param)


@pytest.fixture(scope="session")
def fuzz_settings(
    backend: str,
    role: Role,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp(f"fuzz-{backend}-{role.value}")
    name: str | None = None
    if backend == "postgresql":
        name = random_name("finagency_fuzz")
        url = create_database(name, template=request.getfixturevalue("postgres_template"))
    else:
        url = f"sqlite:///{folder / 'finagency.db'}"
        migrate_url(url, folder)
    try:
        yield load_settings(
            database_url=url,
            data_dir=folder,
            embedded_worker=False,
            log_format="json",
            # One client address makes every call; the login rate limit is not what is fuzzed.
            auth_rate_per_second=10_000,
            auth_rate_burst=10_000,
            **FAST_HASHING,
        )
    finally:
        if name is not None:
            drop_database(name)


@pytest.fixture(scope="session")
async def caller(fuzz_settings: Settings, role: Role) -> Caller:
    """The role's user, committed with market history and a snapshot, so reads have data."""
    database = Database(fuzz_settings)
    try:
        async with AsyncSession(database.async_engine, expire_on_commit=False) as session:
            user = await make_user(session, fuzz_settings, role)
            await simulated_history(session, fuzz_settings, days=HISTORY_DAYS)
            await simulated_snapshot(session, fuzz_settings)
    finally:
        await database.dispose()
    return Caller(fuzz_settings, user)


@pytest.fixture(scope="session")
def api_schema(fuzz_settings: Settings, caller: Caller) -> Iterator[OpenApiSchema]:
    """The app's own /openapi.json, loaded from the running app that the cases are sent to."""
    app = create_app(fuzz_settings)
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        # Schemathesis's pytest plugin ends the app's lifespan after each test; without the plugin
        # (-p no:schemathesis) it would run until exit and hold the database that is dropped.
        schemathesis_asgi.shutdown_lifespans()
