"""Headless collectors, one module per source. `build_probes` turns config into probes.

Probe modules import their client libraries lazily (inside the probe), so start-up pays only for
what the config uses.
"""

from __future__ import annotations

from ..config import Config, HttpService, PostgresService, ServiceConfig, TcpService, TrafficConfig
from ..monitor import Probe


def build_probes(config: Config) -> list[Probe]:
    probes: list[Probe] = [_service_probe(service, config.deck.refresh) for service in config.services]
    probes += [_traffic_probe(traffic, config) for traffic in config.traffic]
    if config.containers:
        probes += _container_probes(config)
    return probes


def _container_probes(config: Config) -> list[Probe]:
    """One probe per engine; remote engines share one pool of SSH connections (closed with the probes)."""
    from .containers import ContainersProbe

    hosts = {h.name: h for h in config.hosts}
    connections = None
    if any(spec.host != "local" for spec in config.containers):
        from ..remote import Connections

        connections = Connections()
    probes: list[Probe] = []
    for spec in config.containers:
        host = hosts.get(spec.host)
        if host is not None:
            host = host.model_copy(update={"key": config.resolve(host.key) if host.key else None,
                                           "known_hosts": config.resolve(host.known_hosts) if host.known_hosts else None})
        probes.append(ContainersProbe(spec, host, config.deck.refresh, connections))
    return probes


def _traffic_probe(traffic: TrafficConfig, config: Config) -> Probe:
    if traffic.source == "scrape":
        from .scrape import ScrapeTrafficProbe

        return ScrapeTrafficProbe(traffic, config.deck.refresh)
    from .prometheus import PrometheusTrafficProbe

    return PrometheusTrafficProbe(traffic, config.prometheus, config.deck.refresh)


def _service_probe(service: ServiceConfig, refresh: float) -> Probe:
    if isinstance(service, HttpService):
        from .health import HttpProbe

        return HttpProbe(service, refresh)
    if isinstance(service, TcpService):
        from .health import TcpProbe

        return TcpProbe(service, refresh)
    if isinstance(service, PostgresService):
        from .postgres import PostgresProbe

        return PostgresProbe(service, refresh)
    from .command import CommandProbe

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
