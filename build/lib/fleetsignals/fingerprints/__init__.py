"""Behavioural fingerprints: per-run vectors, the drift test between windows, anomaly scores.

See docs/fingerprints.md. The dbt models under models/marts/fingerprints/ call
``fleetsignals.fingerprints.warehouse`` after the feature mart is built.
"""
