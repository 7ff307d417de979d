-- quality_drop: the share of bad quality labels (human feedback, judge verdicts) of one agent,
-- overall or for one prompt variant, model, user cohort, tenant, workflow or environment
-- (params.dimensions), is significantly above its own baseline.
--
-- Labels as of arrival: a label counts from the moment it landed (fct_labels.landed_at), so at
-- $eval_at only labels landed by then are seen, each run's latest label per score name and source
-- among those (superseded_at after $eval_at). Current windows: labels that landed in ($eval_at - w,
-- $eval_at] for each w in $window_minutes (a short one sees a strong drop early, a long one a
-- weaker drop with more labels); baseline: those that landed in the baseline_minutes before the
-- longest window. Labels are judged against labels of the same score name and source only (a judge
-- and a human have different bars), one label per run each. Comparing bad shares among labelled
-- runs (not per run) keeps the test fair when coverage is low or uneven: fewer labels widen the
-- test, they do not fake a drop.
--
-- Test: Fisher's exact test, one-sided (the hypergeometric upper tail, summed exactly with lgamma),
-- as correlated_failure. Fires when: at least min_labels labels in the window, min_baseline_labels
-- in the baseline, min_bad bad ones, bad-share ratio >= min_ratio, and p-value < alpha / m, with m
-- by Tarone's modified Bonferroni over the groups and windows with enough labels that could reach
-- significance at all. Too few labels: silent. Overlapping groups report once per agent, score name
-- and source: the firing group with the largest scan statistic (log-likelihood ratio), the more
-- specific dimension among near ties; another firing group only if its labels outside that one
-- still pass the test. value = current bad share / baseline bad share (baseline with one pseudo-bad
-- label in one pseudo-label, so a clean baseline gives a finite ratio).
with

settings as (
    select
        case
            when
                len(list_filter(
                    $dimensions,
                    lambda d: d not in (
                        'prompt_variant', 'model', 'tenant_id', 'user_cohort', 'workflow',
                        'environment'
                    )
                )) > 0
                then error(
                        'quality_drop: params.dimensions may list prompt_variant, model, '
                        || 'tenant_id, user_cohort, workflow, environment'
                    )
            else $dimensions
        end as dims
),

labels as (
    select
        label_id,
        name,
        source,
        is_bad,
        agent_name,
        prompt_variant,
        model,
        tenant_id,
        user_cohort,
        workflow,
        environment,
        landed_at
    from fct_labels
    where
        landed_at <= $eval_at
        and landed_at
        > $eval_at - (list_max($window_minutes) + $baseline_minutes) * interval '1 minute'
        and (superseded_at is null or superseded_at > $eval_at)
        and has_run
        and agent_name is not null
),

windows as (
    select unnest($window_minutes) as win
),

-- Each label once per window it is current in, or as baseline (before the longest window).
windowed as (
    select
        l.*,
        w.win,
        l.landed_at > $eval_at - w.win * interval '1 minute' as is_current
    from labels as l
    cross join windows as w
    where
        l.landed_at > $eval_at - w.win * interval '1 minute'
        or l.landed_at <= $eval_at - list_max($window_minutes) * interval '1 minute'
),

members as (
    select u.*
    from (
        select
            label_id,
            win,
            name,
            source,
            agent_name,
            is_bad,
            is_current,
            unnest([
                'agent', 'prompt_variant', 'model', 'tenant_id', 'user_cohort', 'workflow',
                'environment'
            ]) as dim,
            unnest([
                '', prompt_variant, model, tenant_id, user_cohort, workflow, environment
            ]) as dim_value
        from windowed
    ) as u
    cross join settings as s
    where u.dim = 'agent' or (list_contains(s.dims, u.dim) and u.dim_value is not null)
),

groups as (
    select
        win,
        name,
        source,
        agent_name,
        dim,
        dim_value,
        count(*) filter (where is_current) as n_cur,
        count(*) filter (where is_current and is_bad) as k_cur,
        count(*) filter (where not is_current) as n_base,
        count(*) filter (where not is_current and is_bad) as k_base
    from members
    group by win, name, source, agent_name, dim, dim_value
),

-- Groups with enough labels, with the smallest p-value each could attain (every bad label
-- of both windows in the current one).
enough as (
    select
        *,
        exp(
            lgamma(k_cur + k_base + 1) - lgamma(least(k_cur + k_base, n_cur) + 1)
            - lgamma(k_cur + k_base - least(k_cur + k_base, n_cur) + 1)
            + lgamma(n_cur - k_cur + n_base - k_base + 1)
            - lgamma(n_cur - least(k_cur + k_base, n_cur) + 1)
            - lgamma(n_base - k_cur - k_base + least(k_cur + k_base, n_cur) + 1)
            - lgamma(n_cur + n_base + 1) + lgamma(n_cur + 1) + lgamma(n_base + 1)
        ) as min_p
    from groups
    where n_cur >= $min_labels and n_base >= $min_baseline_labels
),

-- Tarone: the smallest m with at most m groups whose min_p <= alpha / m.
family as (
    select
        least(
            max(n_all),
            coalesce(min(r - 1) filter (where r >= 2 and min_p > $alpha / (r - 1)), max(n_all))
        ) as m
    from (
        select
            min_p,
            row_number() over (order by min_p asc) as r,
            count(*) over () as n_all
        from enough
    ) as e
),

candidates as (
    select
        e.*,
        f.m as n_tests
    from enough as e
    cross join family as f
    where
        e.min_p <= $alpha / f.m
        and e.k_cur >= $min_bad
        and (e.k_cur * 1.0 / e.n_cur) / ((e.k_base + 1.0) / (e.n_base + 1.0)) >= $min_ratio
),

-- For two overlapping candidates f and g (same agent, name, source): f's labels outside g.
residuals as (
    select
        f.win,
        f.name,
        f.source,
        f.agent_name,
        f.dim,
        f.dim_value,
        g.dim as by_dim,
        g.dim_value as by_value,
        f.n_tests,
        count(*) filter (where fm.is_current) as n_cur,
        count(*) filter (where fm.is_current and fm.is_bad) as k_cur,
        count(*) filter (where not fm.is_current) as n_base,
        count(*) filter (where not fm.is_current and fm.is_bad) as k_base
    from candidates as f
    inner join candidates as g
        on
            f.win = g.win
            and f.name = g.name
            and f.source = g.source
            and f.agent_name = g.agent_name
            and (f.dim != g.dim or f.dim_value != g.dim_value)
    inner join members as fm
        on
            f.win = fm.win
            and f.name = fm.name
            and f.source = fm.source
            and f.agent_name = fm.agent_name
            and f.dim = fm.dim
            and f.dim_value = fm.dim_value
    left join members as gm
        on
            fm.win = gm.win
            and fm.label_id = gm.label_id
            and g.dim = gm.dim
            and g.dim_value = gm.dim_value
    where gm.label_id is null
    group by
        f.win, f.name, f.source, f.agent_name, f.dim, f.dim_value, g.dim, g.dim_value, f.n_tests
),

units as (
    select
        win,
        name,
        source,
        agent_name,
        dim,
        dim_value,
        '' as by_dim,
        '' as by_value,
        n_tests,
        n_cur,
        k_cur,
        n_base,
        k_base
    from candidates
    union all
    select
        win,
        name,
        source,
        agent_name,
        dim,
        dim_value,
        by_dim,
        by_value,
        n_tests,
        n_cur,
        k_cur,
        n_base,
        k_base
    from residuals
    where
        n_cur >= $min_labels
        and n_base >= $min_baseline_labels
        and k_cur >= $min_bad
        and (k_cur * 1.0 / n_cur) / ((k_base + 1.0) / (n_base + 1.0)) >= $min_ratio
),

-- Upper tail of the hypergeometric: P(X >= k_cur) with N = n_cur + n_base labels,
-- K = k_cur + k_base bad ones, n_cur drawn.
significant as (
    select
        u.win,
        u.name,
        u.source,
        u.agent_name,
        u.dim,
        u.dim_value,
        u.by_dim,
        u.by_value
    from units as u
    cross join
        lateral generate_series(
            cast(u.k_cur as bigint), cast(least(u.n_cur, u.k_cur + u.k_base) as bigint)
        ) as s (x)
    group by
        u.win, u.name, u.source, u.agent_name, u.dim, u.dim_value, u.by_dim, u.by_value,
        u.n_tests, u.n_cur, u.k_cur, u.n_base, u.k_base
    having sum(exp(
            lgamma(u.k_cur + u.k_base + 1) - lgamma(s.x + 1) - lgamma(u.k_cur + u.k_base - s.x + 1)
            + lgamma(u.n_cur - u.k_cur + u.n_base - u.k_base + 1)
            - lgamma(u.n_cur - s.x + 1)
            - lgamma(u.n_base - u.k_base - u.k_cur + s.x + 1)
            - lgamma(u.n_cur + u.n_base + 1) + lgamma(u.n_cur + 1) + lgamma(u.n_base + 1)
        )) < $alpha / u.n_tests
),

firing as (
    select c.*
    from candidates as c
    inner join significant as s
        on
            c.win = s.win
            and c.name = s.name
            and c.source = s.source
            and c.agent_name = s.agent_name
            and c.dim = s.dim
            and c.dim_value = s.dim_value
            and s.by_dim = ''
),

-- Scan statistic (Kulldorff): log-likelihood ratio of "bad labels elevated in this group".
scored as (
    select
        *,
        k_cur * ln((k_cur * 1.0 / n_cur) / ((k_base + 1.0) / (n_base + 1.0)))
        + (n_cur - k_cur) * ln(
            greatest(1.0 - k_cur * 1.0 / n_cur, 1e-12) / (1.0 - (k_base + 1.0) / (n_base + 1.0))
        ) as llr
    from firing
),

ranked as (
    select
        *,
        row_number() over (
            partition by name, source, agent_name
            order by
                llr < top_llr - 5 asc,
                case dim
                    when 'prompt_variant' then 1 when 'model' then 2 when 'user_cohort' then 3
                    when 'tenant_id' then 4 when 'workflow' then 5 when 'environment' then 6
                    else 9
                end asc,
                llr desc,
                dim_value asc
        ) as pick
    from (
        select
            *,
            max(llr) over (partition by name, source, agent_name) as top_llr
        from scored
    ) as s
),

primaries as (
    select *
    from ranked
    where pick = 1
),

kept as (
    select *
    from primaries
    union all
    select f.*
    from ranked as f
    inner join primaries as p
        on f.name = p.name and f.source = p.source and f.agent_name = p.agent_name
    inner join significant as s
        on
            f.win = s.win
            and f.name = s.name
            and f.source = s.source
            and f.agent_name = s.agent_name
            and f.dim = s.dim
            and f.dim_value = s.dim_value
            and p.dim = s.by_dim
            and p.dim_value = s.by_value
    where f.dim != p.dim or f.dim_value != p.dim_value
),

-- One instance per group: the window with the largest scan statistic.
reported as (
    select *
    from kept
    qualify row_number() over (
            partition by name, source, agent_name, dim, dim_value order by llr desc, win asc
        ) = 1
)

select
    agent_name,
    name as score_name,
    source as label_source,
    k_cur as bad_labels,
    n_cur as labels,
    win as window_minutes,
    case when dim = 'prompt_variant' then dim_value end as prompt_variant,
    case when dim = 'model' then dim_value end as model,
    case when dim = 'tenant_id' then dim_value end as tenant_id,
    case when dim = 'user_cohort' then dim_value end as user_cohort,
    case when dim = 'workflow' then dim_value end as workflow,
    case when dim = 'environment' then dim_value end as environment,
    round((k_cur * 1.0 / n_cur) / ((k_base + 1.0) / (n_base + 1.0)), 3) as value,
    round(k_cur * 100.0 / n_cur, 1) as bad_pct,
    round((k_base + 1.0) * 100.0 / (n_base + 1.0), 1) as baseline_pct
from reported
order by agent_name, score_name, label_source, prompt_variant, model, user_cohort, tenant_id
