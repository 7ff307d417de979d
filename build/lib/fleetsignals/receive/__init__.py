"""`fleetsignals receive`: an OTLP/HTTP endpoint that writes each accepted request to the inbox.

``otlp.py`` decodes request bodies and encodes answers, ``inbox.py`` writes
files durably and measures the backlog, ``server.py`` is the HTTP server.
The scheduler's ingest stays the one path into the lake (docs/receive.md).
"""
