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
    for probe in probes:
        try:
            await probe.aclose()
        except Exception as error:  # reported to the caller, which decides how loud to be
            failures.append(f"{probe.panel}/{probe.target}: {type(error).__name__}: {error}")
    return failures
