"""Liveness never calls a dependency; readiness names the failing one."""

from __future__ import annotations

import httpx

from local_stack.processes import free_port


def test_health_is_ok_with_version(api, openapi_validator):
    response = api.get("/health")
    assert response.status_code == 200
    openapi_validator("Health", response.json())
    assert response.json()["status"] == "ok"


def test_ready_when_dependencies_answer(api, openapi_validator):
    response = api.get("/health/ready")
    assert response.status_code == 200, response.text
    openapi_validator("Readiness", response.json())
    assert response.json() == {
        "status": "ready",
        "checks": {"bedrock": "ok", "dynamodb": "ok"},
        "failing": [],
    }


def test_bedrock_down_gives_ready_503_while_health_stays_200(start_api):
    dead = f"http://127.0.0.1:{free_port()}"
    server = start_api(AWS_ENDPOINT_URL_BEDROCK_RUNTIME=dead)
    ready = httpx.get(server.url + "/api/v1/health/ready", timeout=30)
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["bedrock"]
    assert ready.json()["checks"]["dynamodb"] == "ok"
    assert httpx.get(server.url + "/api/v1/health", timeout=5).status_code == 200


def test_dynamodb_down_is_named(start_api, stack):
    server = start_api(CONVERSATIONS_TABLE="no-such-table")
    ready = httpx.get(server.url + "/api/v1/health/ready", timeout=30)
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["dynamodb"]


def test_bedrock_faults_make_ready_503(api, model):
    model.configure(fault="unavailable")
    assert api.get("/health/ready").json()["failing"] == ["bedrock"]
    model.configure(fault=None)
    assert api.get("/health/ready").status_code == 200


def test_readiness_is_cached(start_api, model):
    server = start_api(READINESS_CACHE_SECONDS="300")
    assert httpx.get(server.url + "/api/v1/health/ready", timeout=30).status_code == 200
    calls = model.stats()["converse"]
    for _ in range(5):
        assert httpx.get(server.url + "/api/v1/health/ready", timeout=30).status_code == 200
    assert model.stats()["converse"] == calls
