"""Headless collectors, one module per source. `build_probes` turns config into probes.

Probe modules import their client libraries lazily (inside the probe), so start-up pays only for
what the config uses.
"""

from __future__ import annotations

from launchdeck.core.config import Config, HostConfig, HttpService, PostgresService, ServiceConfig, TcpService, TrafficConfig
from launchdeck.probes.base import Probe


def build_probes(config: Config) -> list[Probe]:
    probes: list[Probe] = [_service_probe(service, config.deck.refresh) for service in config.services]
    probes += [_traffic_probe(traffic, config) for traffic in config.traffic]
    hosts = resolve_hosts(config)
    remote = [c.host for c in config.containers if c.host != "local"] + [b.host for b in config.backups if b.host]
    connections = None
    if remote:  # one pool of SSH connections for every probe that reads a host (closed with the probes)
        from launchdeck.run.ssh import Connections

        connections = Connections()
    if config.containers:
        from launchdeck.probes.containers.probe import ContainersProbe

        probes += [ContainersProbe(spec, hosts.get(spec.host), config.deck.refresh, connections)
                   for spec in config.containers]
    if config.backups:
        from launchdeck.probes.backups.probe import BackupProbe

        probes += [BackupProbe(spec, hosts.get(spec.host or ""), connections) for spec in config.backups]
    return probes


def resolve_hosts(config: Config) -> dict[str, HostConfig]:
    """[[hosts]] by name, with key and known_hosts paths resolved against the config file."""
    return {host.name: host.model_copy(update={
        "key": config.resolve(host.key) if host.key else None,
        "known_hosts": config.resolve(host.known_hosts) if host.known_hosts else None}) for host in config.hosts}


def _traffic_probe(traffic: TrafficConfig, config: Config) -> Probe:
    if traffic.source == "scrape":
        from launchdeck.probes.traffic.scrape import ScrapeTrafficProbe

        return ScrapeTrafficProbe(traffic, config.deck.refresh)
    from launchdeck.probes.traffic.prometheus import PrometheusTrafficProbe

    return PrometheusTrafficProbe(traffic, config.prometheus, config.deck.refresh)


def _service_probe(service: ServiceConfig, refresh: float) -> Probe:
    if isinstance(service, HttpService):
        from launchdeck.probes.services.http import HttpProbe

        return HttpProbe(service, refresh)
    if isinstance(service, TcpService):
        from launchdeck.probes.services.http import TcpProbe

        return TcpProbe(service, refresh)
    if isinstance(service, PostgresService):
        from launchdeck.probes.services.postgres import PostgresProbe

        return PostgresProbe(service, refresh)
    from launchdeck.probes.services.command import CommandProbe

    return CommandProbe(service, refresh)


async def close_probes(probes: list[Probe]) -> list[str]:
    """Close every probe; return what failed to close instead of raising mid-way."""
    failures: list[str] = []
    pools = {id(pool): pool for p in probes if (pool := getattr(p, "connections", None)) is not None}
    for closable, name in [(p, f"{p.panel}/{p.target}") for p in probes] + [(c, "ssh connections") for c in pools.values()]:
        try:
            await closable.aclose() if hasattr(closable, "aclose") else await closable.close()
        except Exception as error:  # reported to the caller, which decides how loud to be
            failures.append(f"{name}: {type(error).__name__}: {error}")
    return failures
