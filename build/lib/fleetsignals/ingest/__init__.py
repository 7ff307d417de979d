"""OTLP/JSON trace dumps -> Parquet lake (parsing, normalising, writing, quarantine)."""
