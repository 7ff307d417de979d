-- depth_tail: more runs than usual go deeper than the group's own baseline tail.
--
-- Groups: agent_name x prompt_variant. Current window: runs that completed ok in
-- ($eval_at - window, $eval_at]; baseline: those in the baseline_minutes before it. Only ok
-- runs: a silent loop ends ok, while deep failures show in error rates and stuck runs in
-- stuck_agent.
-- A long tail is normal ("P99 > 3x median" is true of healthy fleets), so the tail is
-- compared with its own baseline tail, never with the median.
--
-- Test (exact, distribution-free): t = the baseline's P95 step count; j baseline runs are
-- deeper than t. Under "nothing changed" the number k of current runs deeper than t follows
-- a beta-binomial(n, j + 1, n_base - j) law (exceedances of an order statistic; step counts
-- tie a lot, which only makes this conservative). Fires when: enough runs in both windows,
-- at least min_deep_runs current runs deeper than t (so a few deep runs in thin traffic
-- never fire), the share deeper than t is >= min_ratio x the baseline's share, and the
-- one-sided p-value is below alpha / (number of groups tested) (Bonferroni).
-- value = current share deeper than t / baseline share deeper than t.
with

runs as (
    select
        agent_name,
        prompt_variant,
        step_count,
        ended_at > $eval_at - $window_minutes * interval '1 minute' as is_current
    from fct_runs
    where
        -- Runs that completed ok: silent loops end ok; runs that fail deep show in error
        -- rates, stuck ones in stuck_agent, timeouts carry partial counts.
        status = 'ok'
        and ended_at <= $eval_at
        and ended_at > $eval_at - ($window_minutes + $baseline_minutes) * interval '1 minute'
        and step_count is not null
        and agent_name is not null
),

baseline as (
    select
        agent_name,
        prompt_variant,
        count(*) as n_base,
        quantile_disc(step_count, $tail_quantile) as base_q
    from runs
    where not is_current
    group by agent_name, prompt_variant
    having count(*) >= $min_baseline_runs
),

tested as (
    select
        b.agent_name,
        b.prompt_variant,
        b.n_base,
        b.base_q,
        count(*) filter (where r.is_current) as n_cur,
        count(*) filter (where r.is_current and r.step_count > b.base_q) as k_cur,
        count(*) filter (where not r.is_current and r.step_count > b.base_q) as j_base
    from runs as r
    inner join baseline as b
        on
            r.agent_name = b.agent_name
            and r.prompt_variant is not distinct from b.prompt_variant
    group by b.agent_name, b.prompt_variant, b.n_base, b.base_q
    having count(*) filter (where r.is_current) >= $min_runs
),

-- Bonferroni: every group with enough runs counts as a comparison, fired or not.
counted as (
    select
        *,
        count(*) over () as n_tests,
        (k_cur * 1.0 / n_cur) / ((j_base + 1.0) / (n_base + 1.0)) as ratio
    from tested
),

candidates as (
    select *
    from counted
    where k_cur >= $min_deep_runs and ratio >= $min_ratio
),

-- Upper tail of the beta-binomial(n_cur, a = j_base + 1, b = n_base - j_base), in logs.
tail as (
    select
        c.agent_name,
        c.prompt_variant,
        sum(exp(
            lgamma(c.n_cur + 1) - lgamma(s.x + 1) - lgamma(c.n_cur - s.x + 1)
            + lgamma(s.x + c.j_base + 1) + lgamma(c.n_cur - s.x + c.n_base - c.j_base)
            - lgamma(c.n_cur + c.n_base + 1)
            - lgamma(c.j_base + 1) - lgamma(c.n_base - c.j_base) + lgamma(c.n_base + 1)
        )) as p_value
    from candidates as c
    cross join lateral generate_series(c.k_cur, c.n_cur) as s (x)
    group by c.agent_name, c.prompt_variant
)

select
    c.agent_name,
    c.prompt_variant,
    c.k_cur as deep,
    c.n_cur as runs,
    c.base_q as base_p95,
    round(c.ratio, 3) as value
from candidates as c
inner join tail as t
    on
        c.agent_name = t.agent_name
        and c.prompt_variant is not distinct from t.prompt_variant
where t.p_value < $alpha / c.n_tests
order by c.agent_name, c.prompt_variant
