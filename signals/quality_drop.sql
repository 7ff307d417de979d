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
        labels.*,
        windows.win,
        labels.landed_at > $eval_at - windows.win * interval '1 minute' as is_current
    from labels
    cross join windows
    where
        labels.landed_at > $eval_at - windows.win * interval '1 minute'
        or labels.landed_at <= $eval_at - list_max($window_minutes) * interval '1 minute'
),

members as (
    select by_dimension.*
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
    ) as by_dimension
    cross join settings
    where by_dimension.dim = 'agent'
        or (list_contains(settings.dims, by_dimension.dim) and by_dimension.dim_value is not null)
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
    ) as sorted_groups
),

candidates as (
    select
        enough.*,
        family.m as n_tests
    from enough
    cross join family
    where
        enough.min_p <= $alpha / family.m
        and enough.k_cur >= $min_bad
        and (enough.k_cur * 1.0 / enough.n_cur) / ((enough.k_base + 1.0) / (enough.n_base + 1.0))
        >= $min_ratio
),

-- For two overlapping candidates (same agent, name, source): the tested group's labels
-- outside the other group.
residuals as (
    select
        tested_group.win,
        tested_group.name,
        tested_group.source,
        tested_group.agent_name,
        tested_group.dim,
        tested_group.dim_value,
        other_group.dim as by_dim,
        other_group.dim_value as by_value,
        tested_group.n_tests,
        count(*) filter (where tested_members.is_current) as n_cur,
        count(*) filter (where tested_members.is_current and tested_members.is_bad) as k_cur,
        count(*) filter (where not tested_members.is_current) as n_base,
        count(*) filter (where not tested_members.is_current and tested_members.is_bad) as k_base
    from candidates as tested_group
    inner join candidates as other_group
        on
            tested_group.win = other_group.win
            and tested_group.name = other_group.name
            and tested_group.source = other_group.source
            and tested_group.agent_name = other_group.agent_name
            and (
                tested_group.dim != other_group.dim
                or tested_group.dim_value != other_group.dim_value
            )
    inner join members as tested_members
        on
            tested_group.win = tested_members.win
            and tested_group.name = tested_members.name
            and tested_group.source = tested_members.source
            and tested_group.agent_name = tested_members.agent_name
            and tested_group.dim = tested_members.dim
            and tested_group.dim_value = tested_members.dim_value
    left join members as other_members
        on
            tested_members.win = other_members.win
            and tested_members.label_id = other_members.label_id
            and other_group.dim = other_members.dim
            and other_group.dim_value = other_members.dim_value
    where other_members.label_id is null
    group by
        tested_group.win,
        tested_group.name,
        tested_group.source,
        tested_group.agent_name,
        tested_group.dim,
        tested_group.dim_value,
        other_group.dim,
        other_group.dim_value,
        tested_group.n_tests
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
        units.win,
        units.name,
        units.source,
        units.agent_name,
        units.dim,
        units.dim_value,
        units.by_dim,
        units.by_value
    from units
    cross join
        lateral generate_series(
            cast(units.k_cur as bigint),
            cast(least(units.n_cur, units.k_cur + units.k_base) as bigint)
        ) as outcomes (x)
    group by
        units.win,
        units.name,
        units.source,
        units.agent_name,
        units.dim,
        units.dim_value,
        units.by_dim,
        units.by_value,
        units.n_tests, units.n_cur, units.k_cur, units.n_base, units.k_base
    having sum(exp(
            lgamma(units.k_cur + units.k_base + 1)
            - lgamma(outcomes.x + 1)
            - lgamma(units.k_cur + units.k_base - outcomes.x + 1)
            + lgamma(units.n_cur - units.k_cur + units.n_base - units.k_base + 1)
            - lgamma(units.n_cur - outcomes.x + 1)
            - lgamma(units.n_base - units.k_base - units.k_cur + outcomes.x + 1)
            - lgamma(units.n_cur + units.n_base + 1)
            + lgamma(units.n_cur + 1)
            + lgamma(units.n_base + 1)
        )) < $alpha / units.n_tests
),

firing as (
    select candidates.*
    from candidates
    inner join significant
        on
            candidates.win = significant.win
            and candidates.name = significant.name
            and candidates.source = significant.source
            and candidates.agent_name = significant.agent_name
            and candidates.dim = significant.dim
            and candidates.dim_value = significant.dim_value
            and significant.by_dim = ''
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
    ) as with_top
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
    select ranked.*
    from ranked
    inner join primaries
        on ranked.name = primaries.name
            and ranked.source = primaries.source
            and ranked.agent_name = primaries.agent_name
    inner join significant
        on
            ranked.win = significant.win
            and ranked.name = significant.name
            and ranked.source = significant.source
            and ranked.agent_name = significant.agent_name
            and ranked.dim = significant.dim
            and ranked.dim_value = significant.dim_value
            and primaries.dim = significant.by_dim
            and primaries.dim_value = significant.by_value
    where ranked.dim != primaries.dim or ranked.dim_value != primaries.dim_value
),

-- One instance per group: the window with the largest scan statistic.
reported as (
    select *
    from kept
    qualify row_number() over (
            partition by name, source, agent_name, dim, dim_value order by llr desc, win asc
        ) = 1
),

final as (
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
)

select * from final
order by agent_name, score_name, label_source, prompt_variant, model, user_cohort, tenant_id
