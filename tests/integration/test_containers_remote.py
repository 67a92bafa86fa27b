"""The Containers panel's remote path: a Docker engine reached through the real sshd (forwarded
socket), and a host whose key is not in known_hosts refused with a clear message."""

import uuid

import pytest

from launchdeck.core.config import ContainersConfig, HostConfig
from launchdeck.core.model import Status
from launchdeck.engine.polling import collect_batch
from launchdeck.probes.containers.probe import ContainersProbe
from launchdeck.run.ssh import Connections

pytestmark = pytest.mark.integration


def host_for(ssh_target, known_hosts) -> HostConfig:
    return HostConfig(name="vps1", address=ssh_target.host, port=ssh_target.port, user=ssh_target.username,
                      key=ssh_target.client_key, known_hosts=known_hosts, connect_timeout=5)


@pytest.fixture
def remote_container(docker_client, busybox_image, container_label):
    label = {**container_label, "launchdeck.run.ssh-test": uuid.uuid4().hex[:8]}
    container = docker_client.containers.run(busybox_image, ["sleep", "3600"], detach=True, labels=label,
                                             name=f"ld-remote-{label['launchdeck.run.ssh-test']}")
    yield container, label
    container.remove(force=True)


async def test_containers_of_a_remote_engine_through_the_real_sshd(ssh_target, remote_container):
    container, label = remote_container
    spec = ContainersConfig(host="vps1", filters={"label": [f"launchdeck.run.ssh-test={label['launchdeck.run.ssh-test']}"]},
                            timeout=15)
    connections = Connections()
    probe = ContainersProbe(spec, host_for(ssh_target, ssh_target.known_hosts), 2.0, connections)
    try:
        readings = await collect_batch(probe)
    finally:
        await probe.aclose()
        await connections.close()
    assert [r.target for r in readings] == [f"vps1/{container.name}"], [r.reason for r in readings]
    reading = readings[0]
    assert reading.status is Status.OK and reading.values["state"] == "running"
    assert reading.values["host"] == "vps1" and reading.values["mem_bytes"] > 0


async def test_an_unknown_host_key_is_refused_with_a_clear_message(ssh_target, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    connections = Connections()
    probe = ContainersProbe(ContainersConfig(host="vps1", timeout=15), host_for(ssh_target, empty), 2.0, connections)
    try:
        readings = await collect_batch(probe)
    finally:
        await probe.aclose()
        await connections.close()
    assert len(readings) == 1 and readings[0].target == "vps1" and readings[0].status is Status.UNKNOWN
    assert "host key not verified: UNKNOWN host" in readings[0].reason and "SHA256:" in readings[0].reason
