"""A deterministic synthetic fleet of LLM agents, written as OTLP/JSON dumps the way the
OpenTelemetry Collector's file exporter writes them, with labelled incidents and the
ground truth beside them. See docs/generator.md.
"""

from __future__ import annotations

from fleetsignals.generate.fleet import describe, generate_fleet
from fleetsignals.generate.incidents import INCIDENTS, SIGNALS, Incident
from fleetsignals.generate.incidents import KNOWN as KNOWN_INCIDENTS
from fleetsignals.generate.truth import RUNS_SCHEMA, GroundTruth

__all__ = [
    "INCIDENTS",
    "KNOWN_INCIDENTS",
    "RUNS_SCHEMA",
    "SIGNALS",
    "GroundTruth",
    "Incident",
    "describe",
    "generate_fleet",
]
