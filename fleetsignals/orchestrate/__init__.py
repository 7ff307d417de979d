"""Orchestration above the stages: the scheduler (`fleetsignals run`) and the demo.

The stages, in the order data flows through them: ingest (and receive, its front door)
-> warehouse (dbt models, snapshots) -> alerts (signals, alert state, outbox) ->
retention -> report. A stage imports only the shared modules and the stages before it;
what drives them in turn lives here. tests/test_layers.py keeps it so.
"""
