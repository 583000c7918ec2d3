"""Shared test helpers (an engine on the simulator, driven by the test thread)."""
