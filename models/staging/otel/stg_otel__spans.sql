-- One row per span: deduplicated, with the contract dimensions re-derived from the
-- attribute JSON by the configured mapping (var `dimensions`). The query is the macro
-- otel_spans, which models reading a few runs' spans call with those runs.
{{ otel_spans() }}
