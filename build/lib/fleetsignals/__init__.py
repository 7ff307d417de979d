"""fleetsignals: an analytical warehouse that watches fleets of LLM agents."""

__version__ = "0.1.0"
