"""Quality labels (human feedback, judge scores) -> Parquet in the lake (docs/labels.md)."""
