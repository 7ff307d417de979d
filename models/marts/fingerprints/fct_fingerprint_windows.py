"""fingerprint_drift's windows: one row per 5-minute window end x agent_name x prompt_variant.

Incremental (append): each build adds the window ends the lake's watermark has
passed since the last one, computed in time order so earlier alerts keep their
runs out of later baselines. See fleetsignals/fingerprints and docs/fingerprints.md.
"""


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    from fleetsignals.fingerprints.warehouse import compute_windows, settings_from

    return compute_windows(
        session,
        dbt.ref("fct_run_fingerprints").sql_query(),
        dbt.ref("int_build_watermarks_recorded").sql_query(),
        f"select * from {dbt.this}" if dbt.is_incremental else None,
        settings_from(dbt.config.get("meta")),
    )
