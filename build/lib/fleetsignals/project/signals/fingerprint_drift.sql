/* ---
description: >-
  How {agent_name} ({prompt_variant}) uses its tools moved away from its own baseline:
  the runs of the last hour differ from the runs of the 24 hours before in their per-run
  behavioural vectors (tool mix, depth, repeats and backtracks, errors and recoveries,
  output tokens per LLM call). Hotelling's T² per agent and prompt variant, computed at each
  5-minute window by the build (fct_fingerprint_windows); value is the distance between
  the mean vectors in per-run standard deviations. A prompt, model or tool-schema change
  shows here before errors, latency or cost move.
severity: warning
every: 5m
keep_firing_for: 15m
summary: >-
  {agent_name} {prompt_variant}: behaviour moved {value:.2f} SD from its baseline
  ({n_current:.0f} runs in the last {window_minutes:.0f} min vs {n_baseline:.0f}, p={p_value:.1e})
runbook: >-
  Compare the pair's runs before and after in fct_run_fingerprints (tool_shares,
  step_count, repeat_ratio, output_tokens_per_llm_call by hour); the runs that moved most are in
  fct_run_anomaly_scores (is_anomalous, kept by retention). Check what was deployed for
  this agent and prompt variant around the first alerting window: a prompt edit, a model
  upgrade, a tool schema or retrieval change. If the change was intended, the new
  behaviour becomes the baseline by itself after a day (alerting windows never enter it).
params:
  # The newest window ending within this many minutes of $eval_at counts (older ones are
  # stale); keep it equal to window_minutes of the model (retention keeps the runs of the
  # last window_minutes of a pair in alert).
  window_minutes: 60
--- */
-- fingerprint_drift: reads the newest window the build computed at or before $eval_at
-- (windows use only runs that ended by their end, so this is as of $eval_at).
with

latest as (
    select max(window_end_at) as window_end_at
    from fct_fingerprint_windows
    where
        window_end_at <= $eval_at
        and window_end_at > $eval_at - to_minutes($window_minutes)
),

final as (
    select
        windows.agent_name,
        windows.prompt_variant,
        windows.distance as value,
        windows.n_current,
        windows.n_baseline,
        windows.p_value,
        windows.window_minutes
    from fct_fingerprint_windows as windows
    inner join latest on windows.window_end_at = latest.window_end_at
    where windows.is_alert
)

select * from final
