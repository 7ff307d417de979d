-- p95_cost_jump: the tail of run cost rose against the group's own baseline tail.
--
-- Groups: agent_name alone, and agent_name x user_cohort, x prompt_variant, x model.
-- Current window: completed runs (root ended) that ended in ($eval_at - window, $eval_at];
-- baseline: those that ended in the baseline_minutes before it (never the current window).
-- Runs deeper than the group's baseline P95 step count are left out of both windows: a
-- run that costs more because it loops is depth_tail's to report (one cause, one page);
-- this signal is about each step costing more (context inflation, pricier models).
--
-- Test (exact, distribution-free): t = a baseline quantile of cost. Under "nothing changed"
-- the current runs are exchangeable with the baseline runs, so the number k of current runs
-- costing more than t follows a beta-binomial(n, j + 1, n_base - j) law, where j baseline
-- runs cost more than t (exceedances of an order statistic; conservative with ties). A
-- traffic surge changes n, not that law, so volume alone cannot fire it. Two thresholds
-- are tested, the baseline P95 (tail_quantile) and P75 (shift_quantile): a multiplicative
-- inflation moves the upper body long before a handful of tail runs can prove it.
-- Fires when: enough runs in both windows, current P95 >= min_ratio x baseline P95, and a
-- one-sided p-value is below alpha / (2 x number of groups tested) (Bonferroni).
-- Overlapping groups of one agent report once: the firing group with the largest scan
-- statistic (log-likelihood ratio of "more runs above t inside this group") names the cause;
-- diluting it with unaffected runs, or cutting it short, lowers the statistic. One jump
-- per agent at a time: a second, independent one shows once the first resolves.
-- value = current P95 / baseline P95.
with

runs as (
    select
        run_id,
        agent_name,
        user_cohort,
        prompt_variant,
        model,
        cost_usd,
        step_count,
        ended_at > $eval_at - $window_minutes * interval '1 minute' as is_current
    from fct_runs
    where
        -- Completed runs only: a root that ended by $eval_at (timeouts carry partial cost).
        status in ('ok', 'error')
        and ended_at <= $eval_at
        and ended_at > $eval_at - ($window_minutes + $baseline_minutes) * interval '1 minute'
        and cost_usd is not null
        and agent_name is not null
),

-- Each run is a member of up to four groups of its agent.
members as (
    select
        agent_name,
        'agent' as dim,
        '' as dim_value,
        cost_usd,
        step_count,
        is_current
    from runs
    union all
    select
        agent_name,
        'user_cohort' as dim,
        user_cohort as dim_value,
        cost_usd,
        step_count,
        is_current
    from runs
    where user_cohort is not null
    union all
    select
        agent_name,
        'prompt_variant' as dim,
        prompt_variant as dim_value,
        cost_usd,
        step_count,
        is_current
    from runs
    where prompt_variant is not null
    union all
    select
        agent_name,
        'model' as dim,
        model as dim_value,
        cost_usd,
        step_count,
        is_current
    from runs
    where model is not null
),

depth_limits as (
    select
        agent_name,
        dim,
        dim_value,
        quantile_disc(step_count, $tail_quantile) as max_steps
    from members
    where not is_current
    group by agent_name, dim, dim_value
    having count(*) >= $min_baseline_runs
),

ordinary as (
    select m.*
    from members as m
    inner join depth_limits as d
        on m.agent_name = d.agent_name and m.dim = d.dim and m.dim_value = d.dim_value
    where m.step_count is null or m.step_count <= d.max_steps
),

baseline as (
    select
        agent_name,
        dim,
        dim_value,
        count(*) as n_base,
        quantile_cont(cost_usd, $tail_quantile) as base_q,
        quantile_cont(cost_usd, $shift_quantile) as base_s
    from ordinary
    where not is_current
    group by agent_name, dim, dim_value
),

tested as (
    select
        b.agent_name,
        b.dim,
        b.dim_value,
        b.n_base,
        b.base_q,
        count(*) filter (where o.is_current) as n_cur,
        count(*) filter (where o.is_current and o.cost_usd > b.base_q) as k_cur,
        count(*) filter (where not o.is_current and o.cost_usd > b.base_q) as j_base,
        count(*) filter (where o.is_current and o.cost_usd > b.base_s) as ks_cur,
        count(*) filter (where not o.is_current and o.cost_usd > b.base_s) as js_base,
        quantile_cont(o.cost_usd, $tail_quantile) filter (where o.is_current) as cur_q
    from ordinary as o
    inner join baseline as b
        on o.agent_name = b.agent_name and o.dim = b.dim and o.dim_value = b.dim_value
    group by b.agent_name, b.dim, b.dim_value, b.n_base, b.base_q
    having count(*) filter (where o.is_current) >= $min_runs
),

-- Bonferroni: every group with enough runs counts as a comparison, fired or not.
counted as (
    select
        *,
        count(*) over () as n_tests
    from tested
),

candidates as (
    select *
    from counted
    where cur_q >= $min_ratio * base_q and base_q > 0
),

-- Two exceedance counts per group: above the baseline P95 (the tail itself) and above the
-- baseline P75 (the upper body, which a multiplicative inflation moves long before a
-- handful of tail runs prove it). Either may carry the evidence: Bonferroni x 2.
exceedances as (
    select
        agent_name,
        dim,
        dim_value,
        n_tests,
        n_cur,
        n_base,
        k_cur as k,
        j_base as j
    from candidates
    union all
    select
        agent_name,
        dim,
        dim_value,
        n_tests,
        n_cur,
        n_base,
        ks_cur as k,
        js_base as j
    from candidates
),

-- Upper tail of the beta-binomial(n_cur, a = j + 1, b = n_base - j), in logs; with the
-- scan statistic (log-likelihood ratio of "more runs above the threshold in this group").
evidence as (
    select
        e.agent_name,
        e.dim,
        e.dim_value,
        sum(exp(
            lgamma(e.n_cur + 1) - lgamma(s.x + 1) - lgamma(e.n_cur - s.x + 1)
            + lgamma(s.x + e.j + 1) + lgamma(e.n_cur - s.x + e.n_base - e.j)
            - lgamma(e.n_cur + e.n_base + 1)
            - lgamma(e.j + 1) - lgamma(e.n_base - e.j) + lgamma(e.n_base + 1)
        )) as p_value,
        e.k * ln((e.k * 1.0 / e.n_cur) / ((e.j + 1.0) / (e.n_base + 1.0)))
        + (e.n_cur - e.k) * ln(
            greatest(1.0 - e.k * 1.0 / e.n_cur, 1e-12) / (1.0 - (e.j + 1.0) / (e.n_base + 1.0))
        ) as llr
    from exceedances as e
    cross join lateral generate_series(e.k, e.n_cur) as s (x)
    where e.k > e.n_cur * (e.j + 1.0) / (e.n_base + 1.0)
    group by e.agent_name, e.dim, e.dim_value, e.n_tests, e.n_cur, e.n_base, e.k, e.j
    having
        sum(exp(
            lgamma(e.n_cur + 1) - lgamma(s.x + 1) - lgamma(e.n_cur - s.x + 1)
            + lgamma(s.x + e.j + 1) + lgamma(e.n_cur - s.x + e.n_base - e.j)
            - lgamma(e.n_cur + e.n_base + 1)
            - lgamma(e.j + 1) - lgamma(e.n_base - e.j) + lgamma(e.n_base + 1)
        )) < $alpha / (2 * e.n_tests)
),

scored as (
    select
        c.*,
        max(e.llr) as llr
    from candidates as c
    inner join evidence as e
        on c.agent_name = e.agent_name and c.dim = e.dim and c.dim_value = e.dim_value
    group by all
),

-- Groups whose statistic is within 5 of the largest explain the jump about as well (a
-- likelihood ratio under e^5): among those, the more specific dimension names the cause,
-- so nearly identical groups (an agent with one variant) give one stable identity.
ranked as (
    select
        *,
        row_number() over (
            partition by agent_name
            order by
                llr < top_llr - 5 asc,
                case dim
                    when 'user_cohort' then 1 when 'prompt_variant' then 2 when 'model' then 3
                    else 4
                end asc,
                llr desc,
                dim_value asc
        ) as pick
    from (
        select
            *,
            max(llr) over (partition by agent_name) as top_llr
        from scored
    ) as s
),

kept as (
    select *
    from ranked
    where pick = 1
)

select
    agent_name,
    cur_q as cur_p95,
    base_q as base_p95,
    k_cur as above,
    n_cur as runs,
    case when dim = 'user_cohort' then dim_value end as user_cohort,
    case when dim = 'prompt_variant' then dim_value end as prompt_variant,
    case when dim = 'model' then dim_value end as model,
    round(cur_q / base_q, 3) as value
from kept
order by agent_name
