"""One row per completed run: its distance from its pair's baseline (retention's "anomaly").

Incremental (append): each build scores the runs whose window is computed and
that have no score yet, each against the baseline of the window it ended in.
See fleetsignals/fingerprints and docs/fingerprints.md.
"""


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    from fleetsignals.fingerprints.warehouse import compute_scores, settings_from

    return compute_scores(
        session,
        dbt.ref("fct_run_fingerprints").sql_query(),
        dbt.ref("fct_fingerprint_windows").sql_query(),
        dbt.ref("int_build_watermarks_recorded").sql_query(),
        f"select * from {dbt.this}" if dbt.is_incremental else None,
        settings_from(dbt.config.get("meta")),
    )
