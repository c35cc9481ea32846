import httpx
from fastapi import FastAPI


async def test_health_answers_without_checking_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "AI Finance Agency"
    assert "/health" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    before = await client.get("/metrics")
    line = 'http_requests_total{method="GET",route="/health",status="200"}'
    count_before = _sample(before.text, line)
    for _ in range(3):
        await client.get("/health")
    await client.get("/no/such/page/123")
    after = await client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    assert _sample(after.text, line) == count_before + 3
    # Unknown paths share one label value, so scanners cannot blow up the series count.
    assert 'route="unmatched",status="404"' in after.text
    assert "/no/such/page/123" not in after.text
    assert "http_request_duration_seconds_bucket" in after.text
    assert "process_resident_memory_bytes" in after.text


async def test_metrics_report_the_in_process_worker_and_queues(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    # The fixture's app runs in embedded mode with its worker thread disabled.
    assert "finagency_workers 0.0" in text
    assert 'finagency_queue_length{queue="default"} 0.0' in text


def _sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
