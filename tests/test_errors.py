"""Every error a client can cause is a problem document with a 4xx status; a bug is a bare 500."""

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from finagency.accounts.permissions import Role
from finagency.errors import Conflict
from tests.fixtures.accounts import bearer, make_user

PROBLEM = "application/problem+json"


class Probe(BaseModel):
    name: str
    count: int


@pytest.fixture
async def probe_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a few routes that raise, to see how each kind of error is rendered."""

    @app.post("/api/v1/_probe")
    async def probe(body: Probe) -> dict[str, int]:
        return {"count": body.count}

    @app.get("/api/v1/_conflict")
    async def conflict() -> None:
        raise Conflict("this revision is already scheduled on that channel", channel_id=7)

    @app.get("/api/v1/_bug")
    async def bug() -> None:
        raise RuntimeError("password=hunter2 leaked in a message")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "request_id"} <= body.keys()
    assert body["request_id"] == response.headers["x-request-id"]
    return dict(body)


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/no-such-thing"), 404)
    assert body["title"] == "Not Found"
    assert "/api/v1/no-such-thing" in str(body["detail"])


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    body = assert_problem(response, 405)
    assert "DELETE" in str(body["detail"])
    assert response.headers["allow"] == "GET"


async def test_malformed_json_is_a_422_problem(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/api/v1/_probe", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422)
    assert body["type"] == "https://finagency.dev/problems/validation-error"


async def test_wrong_types_name_the_field(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post("/api/v1/_probe", json={"name": "x", "count": "many"})
    body = assert_problem(response, 422)
    assert str(body["detail"]).startswith("body.count:")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["loc"] == ["body", "count"]


async def test_business_errors_keep_their_status_and_extras(
    probe_client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await probe_client.get("/api/v1/_conflict"), 409)
    assert body["type"] == "https://finagency.dev/problems/conflict"
    assert body["channel_id"] == 7


@pytest.mark.expect_server_error
async def test_an_unexpected_error_reveals_nothing(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/api/v1/_bug")
    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert body["type"] == "https://finagency.dev/problems/internal-error"


async def test_htmx_requests_get_an_html_fragment(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/api/v1/_conflict", headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("text/html")
    assert "already scheduled" in response.text
    assert 'role="alert"' in response.text


async def test_values_the_database_cannot_store_are_a_422_on_both_backends(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    settings = live_app.state.settings
    async with live_app.state.database.session() as session:
        analyst = await make_user(session, settings, Role.analyst)
    headers = bearer(settings, analyst)
    for path in (
        "/api/v1/content/9223372036854775808",  # beyond 64 bits: both backends refuse it
        "/api/v1/channels/2147483648",  # beyond PostgreSQL's integer: a 404 on SQLite
        "/api/v1/content/requests/9223372036854775808",
    ):
        answer = await live_client.get(path, headers=headers)
        assert answer.status_code in {404, 422}, (path, answer.text)
        if answer.status_code == 422:
            assert answer.json()["type"].endswith("/unstorable-value")
    huge = await live_client.get("/api/v1/content/9223372036854775808", headers=headers)
    assert huge.status_code == 422
    on_postgresql = settings.effective_database_url.startswith("postgresql")
    beyond_integer = await live_client.get("/api/v1/channels/2147483648", headers=headers)
    assert beyond_integer.status_code == (422 if on_postgresql else 404)
    body = {"name": "w", "description": "a\u0000b", "symbols": ["^GSPC"]}
    nul = await live_client.post("/api/v1/watchlists", json=body, headers=headers)
    # SQLite stores a NUL; PostgreSQL cannot, and nothing is stored.
    assert nul.status_code == (422 if on_postgresql else 201), nul.text
    listed = (await live_client.get("/api/v1/watchlists", headers=headers)).json()
    names = [w["name"] for w in (listed["items"] if isinstance(listed, dict) else listed)]
    assert names.count("w") == (1 if nul.status_code == 201 else 0)


def _sqlite_write_error(url: str, setup: str) -> OperationalError:
    """The real error SQLite gives to an INSERT on a database `setup` leaves unwritable."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(setup)
            connection.exec_driver_sql("INSERT INTO filler VALUES (randomblob(65536))")
    except OperationalError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError(f"{url}: the write went through")


@pytest.mark.parametrize(
    ("opened", "setup", "status", "slug"),
    [
        # The data dir full: no page left for the row.
        ("", "PRAGMA max_page_count=2", 507, "storage-full"),
        # The database file opened read-only (a read-only mount or file).
        ("?mode=ro&uri=true", "SELECT 1", 503, "storage-read-only"),
    ],
)
async def test_a_data_dir_that_takes_no_write_is_named_not_a_dependency_outage(
    app: FastAPI, tmp_path: Path, opened: str, setup: str, status: int, slug: str
) -> None:
    path = tmp_path / "unwritable.db"
    with sqlite3.connect(path) as seed:
        seed.execute("CREATE TABLE filler (body BLOB)")
    error = _sqlite_write_error(f"sqlite:///{'file:' if opened else ''}{path}{opened}", setup)

    @app.post("/api/v1/_store")
    async def store() -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        body = assert_problem(await http.post("/api/v1/_store"), status)
    assert str(body["type"]).endswith(f"/{slug}")
    assert "nothing was stored" in str(body["detail"])
