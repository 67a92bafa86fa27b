"""One smoke test per real server started by scripts/services.sh: each proves the server answers."""

from __future__ import annotations

import time

import asyncssh
import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from .conftest import free_port

pytestmark = pytest.mark.integration


def test_docker_runs_a_labelled_busybox_container(docker_client, busybox_image, container_label):
    assert docker_client.ping() is True
    container = docker_client.containers.run(
        busybox_image, ["echo", "hello"], labels=container_label, detach=True
    )
    try:
        result = container.wait(timeout=30)
        assert result["StatusCode"] == 0
        assert container.logs() == b"hello\n"
        container.reload()
        assert container.labels.items() >= container_label.items()
    finally:
        container.remove(force=True)


def test_postgres_answers_on_the_scratch_database(pg_dsn):
    with psycopg.connect(pg_dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        version = conn.execute("SHOW server_version").fetchone()[0]
        database = conn.execute("SELECT current_database()").fetchone()[0]
    assert int(version.split(".")[0]) >= 12
    assert database.startswith("launchdeck_test_")


async def test_sshd_runs_a_command_with_key_auth(ssh_target):
    async with asyncssh.connect(
        ssh_target.host,
        port=ssh_target.port,
        username=ssh_target.username,
        client_keys=[str(ssh_target.client_key)],
        known_hosts=str(ssh_target.known_hosts),
        config=None,
        connect_timeout=10,
    ) as conn:
        result = await conn.run("echo ok", check=True, timeout=10)
    assert result.stdout == "ok\n"


async def test_sshd_host_key_is_checked(ssh_target, tmp_path):
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncssh.connect(
            ssh_target.host,
            port=ssh_target.port,
            username=ssh_target.username,
            client_keys=[str(ssh_target.client_key)],
            known_hosts=str(empty_known_hosts),
            config=None,
            connect_timeout=10,
        ):
            pass


def _query(base_url: str, promql: str) -> list[dict]:
    response = httpx.get(f"{base_url}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_scrapes_a_real_exporter(prometheus_factory):
    registry = CollectorRegistry()
    counter = Counter("launchdeck_smoke_events", "Smoke-test events.", registry=registry)
    counter.inc(7)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    target = f"127.0.0.1:{port}"
    try:
        base_url = prometheus_factory([target], scrape_interval="1s", job_name="smoke")

        deadline = time.monotonic() + 20
        up = value = None
        while time.monotonic() < deadline:
            series = [s for s in _query(base_url, "up") if s["metric"].get("instance") == target]
            up = series[0]["value"][1] if series else None
            if up == "1":
                counted = _query(base_url, 'launchdeck_smoke_events_total{job="smoke"}')
                value = float(counted[0]["value"][1]) if counted else None
                if value is not None:
                    break
            time.sleep(0.25)
        assert up == "1", f"up for {target} was {up!r} after 20s"
        assert value == 7.0
        assert series[0]["metric"]["job"] == "smoke"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
