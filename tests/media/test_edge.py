"""Media behind infrastructure/nginx: served from the API's media directory, uploads throttled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from finagency.media import service
from tests.fixtures.servers import RunningProcess
from tests.infra.fixtures_app import embedded_app
from tests.infra.fixtures_nginx import Edge, render_nginx, running_nginx
from tests.media.images import image_bytes


@pytest.fixture(scope="module")
def edge_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("edge")


@pytest.fixture(scope="module")
def app_server(
    edge_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProcess]:
    # The API writes where nginx reads, as the Compose file's shared media volume does.
    media_dir = str(edge_root / "srv" / "media")
    with embedded_app(
        tmp_path_factory.mktemp("app"), embedded_worker="false", media_dir=media_dir
    ) as server:
        yield server


@pytest.fixture(scope="module")
def edge(app_server: RunningProcess, edge_root: Path) -> Iterator[Edge]:
    with running_nginx(render_nginx(edge_root, f"127.0.0.1:{app_server.port}")) as running:
        yield running


def _client(edge: Edge, source: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source, verify=edge.ssl_context())
    return httpx.Client(transport=transport, base_url=edge.https_url, timeout=10)


def test_nginx_serves_what_the_api_stored_as_the_api_would(
    edge: Edge, app_server: RunningProcess, edge_root: Path
) -> None:
    media_dir = edge_root / "srv" / "media"
    image = service.check_image(image_bytes("WEBP"), 100_000)
    service.save_file(media_dir, image)
    (media_dir / ".half-written.part").write_bytes(b"partial")
    with _client(edge, "127.0.0.21") as http:
        served = http.get(f"/media/{image.name}")
        hidden = [
            http.get(path).status_code
            for path in ["/media/.half-written.part", "/media/../srv/media", "/media/"]
        ]
    direct = httpx.get(f"{app_server.base_url}/media/{image.name}", timeout=10)
    for response in (served, direct):
        assert response.status_code == 200
        assert response.content == image.data
        assert response.headers["content-type"] == "image/webp"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert hidden == [404, 404, 404]


def test_uploads_fall_in_the_1_per_second_zone(edge: Edge) -> None:
    with _client(edge, "127.0.0.22") as http:
        statuses = [
            http.post("/api/v1/media", files={"file": ("a.png", b"x")}).status_code
            for _ in range(10)
        ]
        reads = {http.get("/api/v1/media/1").status_code for _ in range(10)}
    # burst 5 + the first go through (and are refused by the app: nobody signed in).
    assert 6 <= statuses.count(401) <= 7, statuses
    assert statuses.count(429) == 10 - statuses.count(401)
    assert reads == {401}  # reading media is ordinary API traffic, not an upload
