"""The embedded demo stack behind `launchdeck demo`: real HTTP servers on loopback, simulated traffic."""
