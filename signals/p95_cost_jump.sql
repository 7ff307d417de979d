-- p95_cost_jump: the tail of run cost rose against the group's own baseline tail.
--
-- Groups: agent_name alone, and agent_name x each value of each dimension listed in
-- $dimensions (contract names: prompt_variant, model, tenant_id, user_cohort, workflow,
-- environment, user_id, session_id). High-cardinality dimensions (tenants) give hundreds of
-- groups per evaluation; most are too small to say anything and are not tested at all.
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
--
-- Small groups (derived, not tuned): a P95 needs at least 1 / (1 - tail_quantile) runs (20)
-- to have a run above it, in both windows; below that the group is not judged. Multiple
-- testing: Tarone's modified Bonferroni. A test whose smallest attainable p-value (all its
-- current runs above t) cannot reach alpha / m can never fire, so it is left out of m;
-- m is the smallest number with at most m tests able to reach alpha / m, and a test fires
-- when its p-value < alpha / m. This bounds the chance of any false row per evaluation by
-- alpha, like Bonferroni over every test, while hundreds of tiny tenants cost no power.
-- Fires when: current P95 >= min_ratio x baseline P95 and a p-value < alpha / m.
--
-- Most specific groups, per agent, among the groups that fire: (1) finer first: a group
-- stands only if it stays significant without the runs of the firing groups nested in it
-- (a cohort does not stand for its tenant, nor the agent for two tenants); (2) a standing
-- group nested in a coarser standing group is folded into it (a cohort-wide jump names the
-- cohort, not its large tenants); (3) strongest first by scan statistic (log-likelihood
-- ratio of "more runs above t inside this group"): a group is reported only if it stays
-- significant without the runs of the stronger ones, so a crossing group (a workflow that
-- the jumping cohort's runs use) does not report the same jump again.
-- value = current P95 / baseline P95.
with

settings as (
    select
        case
            when
                len(list_filter(
                    $dimensions,
                    lambda d: d not in (
                        'prompt_variant', 'model', 'tenant_id', 'user_cohort', 'workflow',
                        'environment', 'user_id', 'session_id'
                    )
                )) > 0
                then error(
                        'p95_cost_jump: params.dimensions may list prompt_variant, model, '
                        || 'tenant_id, user_cohort, workflow, environment, user_id, session_id'
                    )
            else $dimensions
        end as dims,
        list_max($window_minutes) as max_window,
        ceil(1.0 / (1.0 - $tail_quantile) - 1e-9) as min_n
),

windows as (
    select unnest($window_minutes) as win
),

-- CTEs read by several later steps are materialized: computed once per evaluation, not once
-- per reference (a third less time per evaluation on a 31k-run fleet).
runs as materialized (
    select
        r.run_id,
        r.agent_name,
        r.prompt_variant,
        r.model,
        r.tenant_id,
        r.user_cohort,
        r.workflow,
        r.environment,
        r.user_id,
        r.session_id,
        r.cost_usd,
        r.step_count,
        -- The baseline ends where the longest current window begins.
        r.ended_at <= $eval_at - c.max_window * interval '1 minute' as is_base,
        epoch(cast($eval_at as timestamp) - r.ended_at) / 60.0 as age_minutes
    from fct_runs as r
    cross join settings as c
    where
        -- Completed runs only: a root that ended by $eval_at (timeouts carry partial cost).
        r.status in ('ok', 'error')
        and r.ended_at <= $eval_at
        and r.ended_at > $eval_at - (c.max_window + $baseline_minutes) * interval '1 minute'
        and r.cost_usd is not null
        and r.agent_name is not null
),

-- Each run is a member of its agent's group and of one group per listed dimension.
unpivoted as (
    select
        run_id,
        agent_name,
        cost_usd,
        step_count,
        is_base,
        age_minutes,
        unnest([
            'agent', 'prompt_variant', 'model', 'tenant_id', 'user_cohort', 'workflow',
            'environment', 'user_id', 'session_id'
        ]) as dim,
        unnest([
            '', prompt_variant, model, tenant_id, user_cohort, workflow,
            environment, user_id, session_id
        ]) as dim_value
    from runs
),

members as materialized (
    select u.*
    from unpivoted as u
    cross join settings as c
    where u.dim = 'agent' or (list_contains(c.dims, u.dim) and u.dim_value is not null)
),

depth_limits as (
    select
        m.agent_name,
        m.dim,
        m.dim_value,
        quantile_disc(m.step_count, $tail_quantile) as max_steps
    from members as m
    cross join settings as c
    where m.is_base
    group by m.agent_name, m.dim, m.dim_value, c.min_n
    having count(*) >= c.min_n
),

ordinary as materialized (
    select m.*
    from members as m
    inner join depth_limits as d
        on m.agent_name = d.agent_name and m.dim = d.dim and m.dim_value = d.dim_value
    where m.step_count is null or m.step_count <= d.max_steps
),

baseline as materialized (
    select
        o.agent_name,
        o.dim,
        o.dim_value,
        count(*) as n_base,
        quantile_cont(o.cost_usd, $tail_quantile) as base_q,
        quantile_cont(o.cost_usd, $shift_quantile) as base_s
    from ordinary as o
    cross join settings as c
    where o.is_base
    group by o.agent_name, o.dim, o.dim_value, c.min_n
    having count(*) >= c.min_n
),

-- One row per group and current window (the last win minutes; runs between a shorter
-- window and the baseline are in neither).
tested as materialized (
    select
        b.agent_name,
        b.dim,
        b.dim_value,
        w.win,
        b.n_base,
        b.base_q,
        b.base_s,
        count(*) filter (where not o.is_base) as n_cur,
        count(*) filter (where not o.is_base and o.cost_usd > b.base_q) as k_cur,
        count(*) filter (where o.is_base and o.cost_usd > b.base_q) as j_base,
        count(*) filter (where not o.is_base and o.cost_usd > b.base_s) as ks_cur,
        count(*) filter (where o.is_base and o.cost_usd > b.base_s) as js_base,
        quantile_cont(o.cost_usd, $tail_quantile) filter (where not o.is_base) as cur_q,
        quantile_cont(o.cost_usd, $shift_quantile) filter (where not o.is_base) as cur_s
    from ordinary as o
    inner join baseline as b
        on o.agent_name = b.agent_name and o.dim = b.dim and o.dim_value = b.dim_value
    cross join windows as w
    cross join settings as c
    where o.is_base or o.age_minutes < w.win
    group by b.agent_name, b.dim, b.dim_value, w.win, b.n_base, b.base_q, b.base_s, c.min_n
    having count(*) filter (where not o.is_base) >= c.min_n
),

-- Two exceedance tests per group and window: above the baseline P95 (the tail itself) and
-- above the baseline P75 (the upper body, which a multiplicative inflation moves long
-- before a handful of tail runs prove it). Each is one test of the family.
exceedances as (
    select
        agent_name,
        dim,
        dim_value,
        win,
        n_cur,
        n_base,
        k_cur as k,
        j_base as j
    from tested
    union all
    select
        agent_name,
        dim,
        dim_value,
        win,
        n_cur,
        n_base,
        ks_cur as k,
        js_base as j
    from tested
),

-- The smallest p-value a test can attain: all n current runs above t,
-- P(k = n) = B(n + j + 1, n_base - j) / B(j + 1, n_base - j).
attainable as materialized (
    select
        *,
        row_number() over (order by min_p asc) as r,
        count(*) over () as n_all
    from (
        select
            *,
            exp(
                lgamma(n_cur + j + 1) - lgamma(n_cur + n_base + 1)
                - lgamma(j + 1) + lgamma(n_base + 1)
            ) as min_p
        from exceedances
        where j < n_base
    ) as e
),

-- Tarone: m = the smallest m with at most m tests whose min_p <= alpha / m; with min_p
-- sorted ascending that is the smallest r - 1 (r >= 2) whose min_p > alpha / (r - 1),
-- else every test.
family as (
    select
        least(
            max(n_all),
            coalesce(min(r - 1) filter (where r >= 2 and min_p > $alpha / (r - 1)), max(n_all))
        ) as m
    from attainable
),

-- Material effect: the tail (P95) or the upper body (P75) rose by min_ratio.
candidates as (
    select *
    from tested
    where
        base_q > 0
        and base_s > 0
        and greatest(cur_q / base_q, cur_s / base_s) >= $min_ratio
),

-- Upper tail of the beta-binomial(n_cur, a = j + 1, b = n_base - j), in logs; with the
-- scan statistic (log-likelihood ratio of "more runs above the threshold in this group").
evidence as (
    select
        e.agent_name,
        e.dim,
        e.dim_value,
        e.win,
        e.k * ln((e.k * 1.0 / e.n_cur) / ((e.j + 1.0) / (e.n_base + 1.0)))
        + (e.n_cur - e.k) * ln(
            greatest(1.0 - e.k * 1.0 / e.n_cur, 1e-12) / (1.0 - (e.j + 1.0) / (e.n_base + 1.0))
        ) as llr
    from attainable as e
    inner join candidates as c
        on
            e.agent_name = c.agent_name
            and e.dim = c.dim
            and e.dim_value = c.dim_value
            and e.win = c.win
    cross join family as f
    cross join lateral generate_series(e.k, e.n_cur) as s (x)
    where e.k > e.n_cur * (e.j + 1.0) / (e.n_base + 1.0) and e.min_p <= $alpha / f.m
    group by e.agent_name, e.dim, e.dim_value, e.win, e.n_cur, e.n_base, e.k, e.j, f.m
    having
        sum(exp(
            lgamma(e.n_cur + 1) - lgamma(s.x + 1) - lgamma(e.n_cur - s.x + 1)
            + lgamma(s.x + e.j + 1) + lgamma(e.n_cur - s.x + e.n_base - e.j)
            - lgamma(e.n_cur + e.n_base + 1)
            - lgamma(e.j + 1) - lgamma(e.n_base - e.j) + lgamma(e.n_base + 1)
        )) < $alpha / f.m
),

-- One row per firing group: the window (and threshold) with the strongest evidence.
firing as (
    select *
    from (
        select
            c.*,
            e.llr,
            row_number() over (
                partition by c.agent_name, c.dim, c.dim_value order by e.llr desc, c.win desc
            ) as best
        from candidates as c
        inner join evidence as e
            on
                c.agent_name = e.agent_name
                and c.dim = e.dim
                and c.dim_value = e.dim_value
                and c.win = e.win
    ) as b
    where best = 1
),

-- Specificity: fewer current runs first; groups holding the same runs (an agent with one
-- variant) by dimension, the most specific first.
ordered as materialized (
    select
        *,
        row_number() over (
            partition by agent_name order by n_cur asc, dim_rank asc, dim_value asc
        ) as pos
    from (
        select
            *,
            case dim
                when 'session_id' then 1 when 'user_id' then 2 when 'tenant_id' then 3
                when 'workflow' then 4 when 'prompt_variant' then 5 when 'model' then 6
                when 'user_cohort' then 7 when 'environment' then 8 else 9
            end as dim_rank
        from firing
    ) as r
),

-- Pairs of firing groups of one agent where the finer one's runs all lie in the coarser
-- (a tenant in its cohort, anything in its agent); dimensions that cross (a workflow and
-- a cohort) are not nested.
nested as (
    select
        f.agent_name,
        f.dim,
        f.dim_value,
        h.dim as by_dim,
        h.dim_value as by_value
    from ordered as f
    inner join ordered as h on f.agent_name = h.agent_name and f.pos < h.pos
    inner join members as o
        on f.agent_name = o.agent_name and f.dim = o.dim and f.dim_value = o.dim_value
    left join members as oh
        on
            h.agent_name = oh.agent_name
            and h.dim = oh.dim
            and h.dim_value = oh.dim_value
            and o.run_id = oh.run_id
    group by f.agent_name, f.dim, f.dim_value, h.dim, h.dim_value
    having count(oh.run_id) = count(*)
),

-- Step 1, finer first: a firing group stands only if it stays significant without the
-- runs of the firing groups nested in it (a cohort does not stand for its tenant).
finer_runs as (
    select distinct
        n.agent_name,
        n.by_dim as dim,
        n.by_value as dim_value,
        o.run_id
    from nested as n
    inner join members as o
        on n.agent_name = o.agent_name and n.dim = o.dim and n.dim_value = o.dim_value
),

standing_counts as (
    select
        f.agent_name,
        f.dim,
        f.dim_value,
        count(*) filter (where not o.is_base) as n_cur,
        count(*) filter (where o.is_base) as n_base,
        count(*) filter (where not o.is_base and o.cost_usd > f.base_q) as k_cur,
        count(*) filter (where o.is_base and o.cost_usd > f.base_q) as j_base,
        count(*) filter (where not o.is_base and o.cost_usd > f.base_s) as ks_cur,
        count(*) filter (where o.is_base and o.cost_usd > f.base_s) as js_base
    from ordered as f
    inner join ordinary as o
        on f.agent_name = o.agent_name and f.dim = o.dim and f.dim_value = o.dim_value
    left join finer_runs as x
        on
            f.agent_name = x.agent_name
            and f.dim = x.dim
            and f.dim_value = x.dim_value
            and o.run_id = x.run_id
    where x.run_id is null and (o.is_base or o.age_minutes < f.win)
    group by f.agent_name, f.dim, f.dim_value
),

standing as (
    select distinct
        t.agent_name,
        t.dim,
        t.dim_value
    from (
        select
            e.agent_name,
            e.dim,
            e.dim_value
        from (
            select
                agent_name,
                dim,
                dim_value,
                n_cur,
                n_base,
                k_cur as k,
                j_base as j
            from standing_counts
            union all
            select
                agent_name,
                dim,
                dim_value,
                n_cur,
                n_base,
                ks_cur as k,
                js_base as j
            from standing_counts
        ) as e
        cross join family as f
        cross join settings as c
        cross join lateral generate_series(e.k, e.n_cur) as s (x)
        where
            e.n_cur >= c.min_n
            and e.n_base >= c.min_n
            and e.j < e.n_base
            and e.k > e.n_cur * (e.j + 1.0) / (e.n_base + 1.0)
        group by e.agent_name, e.dim, e.dim_value, e.n_cur, e.n_base, e.k, e.j, f.m
        having
            sum(exp(
                lgamma(e.n_cur + 1) - lgamma(s.x + 1) - lgamma(e.n_cur - s.x + 1)
                + lgamma(s.x + e.j + 1) + lgamma(e.n_cur - s.x + e.n_base - e.j)
                - lgamma(e.n_cur + e.n_base + 1)
                - lgamma(e.j + 1) - lgamma(e.n_base - e.j) + lgamma(e.n_base + 1)
            )) < $alpha / f.m
    ) as t
),

-- Step 2: a standing group nested in a coarser standing group is folded into it (the jump
-- reaches beyond it: name the cohort, not each of its tenants).
folded as (
    select n.*
    from nested as n
    inner join standing as fs
        on n.agent_name = fs.agent_name and n.dim = fs.dim and n.dim_value = fs.dim_value
    inner join standing as hs
        on n.agent_name = hs.agent_name and n.by_dim = hs.dim and n.by_value = hs.dim_value
),

named as (
    select f.*
    from ordered as f
    inner join standing as s
        on f.agent_name = s.agent_name and f.dim = s.dim and f.dim_value = s.dim_value
    where
        not exists (
            select 1
            from folded as x
            where f.agent_name = x.agent_name and f.dim = x.dim and f.dim_value = x.dim_value
        )
),

-- Step 3, strongest first (scan statistic): a named group is reported if it stays
-- significant without the runs of the named groups with a larger statistic, so a group
-- crossing the cause (a model the jumping tenant uses) does not report it twice.
stronger_runs as (
    select distinct
        f.agent_name,
        f.dim,
        f.dim_value,
        o.run_id
    from named as f
    inner join named as g
        on
            f.agent_name = g.agent_name
            and (f.llr < g.llr or (f.llr = g.llr and f.pos > g.pos))
    inner join members as o
        on g.agent_name = o.agent_name and g.dim = o.dim and g.dim_value = o.dim_value
),

reported_counts as (
    select
        f.agent_name,
        f.dim,
        f.dim_value,
        count(*) filter (where not o.is_base) as n_cur,
        count(*) filter (where o.is_base) as n_base,
        count(*) filter (where not o.is_base and o.cost_usd > f.base_q) as k_cur,
        count(*) filter (where o.is_base and o.cost_usd > f.base_q) as j_base,
        count(*) filter (where not o.is_base and o.cost_usd > f.base_s) as ks_cur,
        count(*) filter (where o.is_base and o.cost_usd > f.base_s) as js_base
    from named as f
    inner join ordinary as o
        on f.agent_name = o.agent_name and f.dim = o.dim and f.dim_value = o.dim_value
    left join stronger_runs as x
        on
            f.agent_name = x.agent_name
            and f.dim = x.dim
            and f.dim_value = x.dim_value
            and o.run_id = x.run_id
    where x.run_id is null and (o.is_base or o.age_minutes < f.win)
    group by f.agent_name, f.dim, f.dim_value
),

reported as (
    select distinct
        t.agent_name,
        t.dim,
        t.dim_value
    from (
        select
            e.agent_name,
            e.dim,
            e.dim_value
        from (
            select
                agent_name,
                dim,
                dim_value,
                n_cur,
                n_base,
                k_cur as k,
                j_base as j
            from reported_counts
            union all
            select
                agent_name,
                dim,
                dim_value,
                n_cur,
                n_base,
                ks_cur as k,
                js_base as j
            from reported_counts
        ) as e
        cross join family as f
        cross join settings as c
        cross join lateral generate_series(e.k, e.n_cur) as s (x)
        where
            e.n_cur >= c.min_n
            and e.n_base >= c.min_n
            and e.j < e.n_base
            and e.k > e.n_cur * (e.j + 1.0) / (e.n_base + 1.0)
        group by e.agent_name, e.dim, e.dim_value, e.n_cur, e.n_base, e.k, e.j, f.m
        having
            sum(exp(
                lgamma(e.n_cur + 1) - lgamma(s.x + 1) - lgamma(e.n_cur - s.x + 1)
                + lgamma(s.x + e.j + 1) + lgamma(e.n_cur - s.x + e.n_base - e.j)
                - lgamma(e.n_cur + e.n_base + 1)
                - lgamma(e.j + 1) - lgamma(e.n_base - e.j) + lgamma(e.n_base + 1)
            )) < $alpha / f.m
    ) as t
),

kept as (
    select f.*
    from named as f
    inner join reported as r
        on f.agent_name = r.agent_name and f.dim = r.dim and f.dim_value = r.dim_value
),

final as (
    select
        -- Not labels (excluded below): only for the order.
        dim,
        dim_value,
        agent_name,
        cur_q as cur_p95,
        base_q as base_p95,
        k_cur as above,
        n_cur as runs,
        win as window_minutes,
        case when dim = 'prompt_variant' then dim_value end as prompt_variant,
        case when dim = 'model' then dim_value end as model,
        case when dim = 'tenant_id' then dim_value end as tenant_id,
        case when dim = 'user_cohort' then dim_value end as user_cohort,
        case when dim = 'workflow' then dim_value end as workflow,
        case when dim = 'environment' then dim_value end as environment,
        case when dim = 'user_id' then dim_value end as user_id,
        case when dim = 'session_id' then dim_value end as session_id,
        round(cur_q / base_q, 3) as value
    from kept
)

select * exclude (dim, dim_value) from final
order by agent_name, dim, dim_value
