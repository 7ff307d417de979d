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
-- Tests (distribution-free: under "nothing changed" the current runs are exchangeable with
-- the baseline runs, whatever the cost distribution). A traffic surge changes n, not these
-- laws, so volume alone cannot fire it. Two tests per group and window:
-- - tail: t = the baseline P95 (tail_quantile); the number k of current runs costing more
--   than t follows a beta-binomial(n, j + 1, n_base - j) law exactly, where j baseline runs
--   cost more than t (exceedances of an order statistic; conservative with ties);
-- - shift: the Wilcoxon-Mann-Whitney rank-sum U of the current runs' cost per step among
--   the baseline's, by its normal approximation without tie correction (conservative: ties
--   and the bounded statistic only make the true tail thinner). A multiplicative inflation
--   moves the whole body long before a handful of tail runs can prove it; ranks use every
--   run, where an exceedance count of the P75 threw away all but one bit per run. Cost per
--   step, not per run: most of a run's cost spread is how many steps it took (log-sd 0.45
--   to 0.78 per run, 0.30 to 0.47 per step in generated tenants), which says nothing about
--   each step costing more; the same runs give 1.5 to 1.7x the z.
--
-- Small groups (derived, not tuned): a P95 needs at least 1 / (1 - tail_quantile) runs (20)
-- to have a run above it, in both windows; below that the group is not judged. Multiple
-- testing: Tarone's modified Bonferroni. A test whose smallest attainable p-value (all its
-- current runs above t, or above every baseline run) cannot reach alpha / m can never
-- fire, so it is left out of m; m is the smallest number with at most m tests able to
-- reach alpha / m, and a test fires when its p-value < alpha / m. This bounds the chance
-- of any false row per evaluation by alpha, like Bonferroni over every test, while
-- hundreds of tiny tenants cost no power.
-- Fires when: current P95 or P75 (shift_quantile) >= min_ratio x the baseline's (a material
-- effect) and a p-value < alpha / m.
--
-- Most specific groups, per agent. Significant groups (a p-value < alpha / m) that are not
-- material fire nothing but may explain others. (1) Finer first (fewer runs over the whole
-- span read, so a group nested in another comes first whatever window each is judged on):
-- a group stands only if it stays significant without the runs of the firing groups
-- nested in it (a cohort does not stand for its tenant, nor the agent for two tenants), and
-- can be named only if what is left is material too. (2) Rest of the group: a firing
-- group nested in a coarser standing group (material or not) is explained by it unless
-- its runs changed more than the rest of that group's (a cohort-wide jump, or one draining
-- from the hour, names the cohort or nothing, not its large tenants; an agent-wide small
-- drift does not hide a tenant's own jump). (3) Strongest first by scan statistic
-- (log-likelihood ratio of "more runs above t inside this group", z^2 / 2 for the shift):
-- a group is reported only if it stays significant without the runs of the stronger named
-- or explaining groups, or of the stronger standing groups crossing it (material or not),
-- so a crossing group (a workflow that the jumping cohort's runs use) does not report the
-- same jump again, even once the cohort's draining jump is under the gate.
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
        fct_runs.run_id,
        fct_runs.agent_name,
        fct_runs.prompt_variant,
        fct_runs.model,
        fct_runs.tenant_id,
        fct_runs.user_cohort,
        fct_runs.workflow,
        fct_runs.environment,
        fct_runs.user_id,
        fct_runs.session_id,
        fct_runs.cost_usd,
        fct_runs.step_count,
        -- The shift test ranks cost per step (below): the run's cost without its length.
        fct_runs.cost_usd / greatest(fct_runs.step_count, 1) as step_cost_usd,
        -- The baseline ends where the longest current window begins.
        fct_runs.ended_at <= $eval_at - settings.max_window * interval '1 minute' as is_base,
        epoch(cast($eval_at as timestamp) - fct_runs.ended_at) / 60.0 as age_minutes
    from fct_runs
    cross join settings
    where
        -- Completed runs only: a root that ended by $eval_at (timeouts carry partial cost).
        fct_runs.status in ('ok', 'error')
        and fct_runs.ended_at <= $eval_at
        and fct_runs.ended_at
        > $eval_at - (settings.max_window + $baseline_minutes) * interval '1 minute'
        and fct_runs.cost_usd is not null
        and fct_runs.agent_name is not null
),

-- Each run is a member of its agent's group and of one group per listed dimension.
unpivoted as (
    select
        run_id,
        agent_name,
        cost_usd,
        step_cost_usd,
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
    select unpivoted.*
    from unpivoted
    cross join settings
    where unpivoted.dim = 'agent'
        or (list_contains(settings.dims, unpivoted.dim) and unpivoted.dim_value is not null)
),

depth_limits as (
    select
        members.agent_name,
        members.dim,
        members.dim_value,
        quantile_disc(members.step_count, $tail_quantile) as max_steps
    from members
    cross join settings
    where members.is_base
    group by members.agent_name, members.dim, members.dim_value, settings.min_n
    having count(*) >= settings.min_n
),

ordinary as materialized (
    select members.*
    from members
    inner join depth_limits
        on members.agent_name = depth_limits.agent_name
            and members.dim = depth_limits.dim
            and members.dim_value = depth_limits.dim_value
    where members.step_count is null or members.step_count <= depth_limits.max_steps
),

baseline as materialized (
    select
        ordinary.agent_name,
        ordinary.dim,
        ordinary.dim_value,
        count(*) as n_base,
        quantile_cont(ordinary.cost_usd, $tail_quantile) as base_q,
        quantile_cont(ordinary.cost_usd, $shift_quantile) as base_s
    from ordinary
    cross join settings
    where ordinary.is_base
    group by ordinary.agent_name, ordinary.dim, ordinary.dim_value, settings.min_n
    having count(*) >= settings.min_n
),

-- Each run's placement among its group's baseline runs: how many cost less (ties count
-- half). The rank-sum statistic U of a current window is the sum of its runs' placements.
placed as materialized (
    select
        *,
        sum(case when is_base then 1 else 0 end)
            over (
                partition by agent_name, dim, dim_value
                order by step_cost_usd
                range between unbounded preceding and current row
            )
        - 0.5 * sum(case when is_base then 1 else 0 end) over (
            partition by agent_name, dim, dim_value, step_cost_usd
        ) as placement
    from ordinary
),

-- One row per group and current window (the last win minutes; runs between a shorter
-- window and the baseline are in neither).
tested as materialized (
    select
        baseline.agent_name,
        baseline.dim,
        baseline.dim_value,
        windows.win,
        baseline.n_base,
        baseline.base_q,
        baseline.base_s,
        count(*) filter (where not placed.is_base) as n_cur,
        count(*) filter (where not placed.is_base and placed.cost_usd > baseline.base_q) as k_cur,
        count(*) filter (where placed.is_base and placed.cost_usd > baseline.base_q) as j_base,
        sum(placed.placement) filter (where not placed.is_base) as u_cur,
        quantile_cont(placed.cost_usd, $tail_quantile) filter (where not placed.is_base)
            as cur_q,
        quantile_cont(placed.cost_usd, $shift_quantile) filter (where not placed.is_base)
            as cur_s
    from placed
    inner join baseline
        on placed.agent_name = baseline.agent_name
            and placed.dim = baseline.dim
            and placed.dim_value = baseline.dim_value
    cross join windows
    cross join settings
    where placed.is_base or placed.age_minutes < windows.win
    group by
        baseline.agent_name,
        baseline.dim,
        baseline.dim_value,
        windows.win,
        baseline.n_base,
        baseline.base_q,
        baseline.base_s,
        settings.min_n
    having count(*) filter (where not placed.is_base) >= settings.min_n
),

-- Two tests per group and window, each one test of the family: the tail (current runs
-- above the baseline P95, exact beta-binomial law) and the shift (rank-sum of the current
-- runs among the baseline's, z of its normal approximation; z_max when every current run
-- costs more than every baseline run).
tests as (
    select
        agent_name,
        dim,
        dim_value,
        win,
        'tail' as kind,
        n_cur,
        n_base,
        k_cur as k,
        j_base as j,
        null::double as z,
        null::double as z_max
    from tested
    union all
    select
        agent_name,
        dim,
        dim_value,
        win,
        'shift' as kind,
        n_cur,
        n_base,
        null as k,
        null as j,
        (u_cur - n_cur * n_base / 2.0)
        / sqrt(n_cur * n_base * (n_cur + n_base + 1) / 12.0) as z,
        sqrt(3.0 * n_cur * n_base / (n_cur + n_base + 1)) as z_max
    from tested
),

-- The smallest p-value a test can attain: the tail's with all n current runs above t,
-- P(k = n) = B(n + j + 1, n_base - j) / B(j + 1, n_base - j); the shift's at z_max. The
-- normal upper tail Q(z) is Boerjesson and Sundberg's closed form (relative error below
-- 0.3 %): phi(z) / (0.661 z + 0.339 sqrt(z^2 + 5.51)).
attainable as materialized (
    select
        *,
        row_number() over (order by min_p asc) as r,
        count(*) over () as n_all
    from (
        select
            *,
            case
                when kind = 'tail'
                    then exp(
                            lgamma(n_cur + j + 1) - lgamma(n_cur + n_base + 1)
                            - lgamma(j + 1) + lgamma(n_base + 1)
                        )
                else exp(-z_max * z_max / 2.0) / sqrt(2.0 * pi())
                    / (0.661 * z_max + 0.339 * sqrt(z_max * z_max + 5.51))
            end as min_p
        from tests
        where kind = 'shift' or j < n_base
    ) as with_min_p
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

-- The tests that reach alpha / m (material or not), each with its strength: the
-- log-likelihood ratio of "more runs above t inside this group" for the tail (Kulldorff's
-- scan statistic), z^2 / 2 for the shift (the same ratio for a normal statistic).
tail_evidence as (
    select
        attainable.agent_name,
        attainable.dim,
        attainable.dim_value,
        attainable.win,
        attainable.k
        * ln(
            (attainable.k * 1.0 / attainable.n_cur)
            / ((attainable.j + 1.0) / (attainable.n_base + 1.0))
        )
        + (attainable.n_cur - attainable.k) * ln(
            greatest(1.0 - attainable.k * 1.0 / attainable.n_cur, 1e-12)
            / (1.0 - (attainable.j + 1.0) / (attainable.n_base + 1.0))
        ) as llr
    from attainable
    cross join family
    cross join lateral generate_series(attainable.k, attainable.n_cur) as outcomes (x)
    where attainable.kind = 'tail'
        and attainable.k > attainable.n_cur * (attainable.j + 1.0) / (attainable.n_base + 1.0)
        and attainable.min_p <= $alpha / family.m
    group by
        attainable.agent_name,
        attainable.dim,
        attainable.dim_value,
        attainable.win,
        attainable.n_cur,
        attainable.n_base,
        attainable.k,
        attainable.j,
        family.m
    having
        sum(exp(
            lgamma(attainable.n_cur + 1)
            - lgamma(outcomes.x + 1)
            - lgamma(attainable.n_cur - outcomes.x + 1)
            + lgamma(outcomes.x + attainable.j + 1)
            + lgamma(attainable.n_cur - outcomes.x + attainable.n_base - attainable.j)
            - lgamma(attainable.n_cur + attainable.n_base + 1)
            - lgamma(attainable.j + 1)
            - lgamma(attainable.n_base - attainable.j)
            + lgamma(attainable.n_base + 1)
        )) < $alpha / family.m
),

shift_evidence as (
    select
        attainable.agent_name,
        attainable.dim,
        attainable.dim_value,
        attainable.win,
        attainable.z * attainable.z / 2.0 as llr
    from attainable
    cross join family
    where attainable.kind = 'shift'
        and attainable.z > 0
        and attainable.min_p <= $alpha / family.m
        and exp(-attainable.z * attainable.z / 2.0) / sqrt(2.0 * pi())
        / (0.661 * attainable.z + 0.339 * sqrt(attainable.z * attainable.z + 5.51))
        < $alpha / family.m
),

evidence as (
    select * from tail_evidence
    union all
    select * from shift_evidence
),

-- One row per significant group: the window (and test) with the strongest evidence, a
-- material one first. A group fires when it is material: its tail (P95) or upper body
-- (P75) rose by min_ratio in a significant window. Significant groups below that gate
-- fire nothing but can explain the groups nested in them (step 2 below).
significant as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by agent_name, dim, dim_value
                order by is_material desc, llr desc, win desc
            ) as best
        from (
            select
                tested.*,
                evidence.llr,
                coalesce(
                    tested.base_q > 0
                    and tested.base_s > 0
                    and greatest(
                        tested.cur_q / tested.base_q, tested.cur_s / tested.base_s
                    ) >= $min_ratio,
                    false
                ) as is_material
            from tested
            inner join evidence
                on
                    tested.agent_name = evidence.agent_name
                    and tested.dim = evidence.dim
                    and tested.dim_value = evidence.dim_value
                    and tested.win = evidence.win
        ) as gated
    ) as by_strength
    where best = 1
),

-- Each significant group's runs over the whole span the signal reads (baseline and longest
-- window). Not its current runs: each group is judged on its own best window, so a tenant
-- judged on the hour can have more current runs than its cohort judged on 30 minutes, yet
-- over one span a group nested in another never has more runs than it.
sizes as (
    select
        members.agent_name,
        members.dim,
        members.dim_value,
        count(*) as n_span
    from members
    inner join significant
        on members.agent_name = significant.agent_name
            and members.dim = significant.dim
            and members.dim_value = significant.dim_value
    group by members.agent_name, members.dim, members.dim_value
),

-- Specificity: fewer runs over the span first; groups holding the same runs (an agent with
-- one variant) by dimension, the most specific first. A group nested in another comes
-- before it.
ordered as materialized (
    select
        *,
        row_number() over (
            partition by agent_name order by n_span asc, dim_rank asc, dim_value asc
        ) as pos
    from (
        select
            significant.*,
            sizes.n_span,
            case significant.dim
                when 'session_id' then 1 when 'user_id' then 2 when 'tenant_id' then 3
                when 'workflow' then 4 when 'prompt_variant' then 5 when 'model' then 6
                when 'user_cohort' then 7 when 'environment' then 8 else 9
            end as dim_rank
        from significant
        inner join sizes
            on significant.agent_name = sizes.agent_name
                and significant.dim = sizes.dim
                and significant.dim_value = sizes.dim_value
    ) as with_rank
),

-- Pairs of significant groups of one agent where the first one's runs all lie in the other
-- (a tenant in its cohort, anything in its agent); dimensions that cross (a workflow and a
-- cohort) are not nested. Groups holding the same runs are nested one way, by position.
holds as materialized (
    select
        finer.agent_name,
        finer.dim,
        finer.dim_value,
        finer.win,
        finer.is_material,
        coarser.dim as by_dim,
        coarser.dim_value as by_value
    from ordered as finer
    inner join
        ordered as coarser
        on finer.agent_name = coarser.agent_name and finer.pos < coarser.pos
    inner join members as finer_members
        on finer.agent_name = finer_members.agent_name
            and finer.dim = finer_members.dim
            and finer.dim_value = finer_members.dim_value
    left join members as coarser_members
        on
            coarser.agent_name = coarser_members.agent_name
            and coarser.dim = coarser_members.dim
            and coarser.dim_value = coarser_members.dim_value
            and finer_members.run_id = coarser_members.run_id
    group by
        finer.agent_name,
        finer.dim,
        finer.dim_value,
        finer.win,
        finer.is_material,
        coarser.dim,
        coarser.dim_value
    having count(coarser_members.run_id) = count(*)
),

-- The firing groups nested in a significant group.
nested as (
    select
        agent_name,
        dim,
        dim_value,
        win,
        by_dim,
        by_value
    from holds
    where is_material
),

-- Step 1, finer first: a significant group stands only if it stays significant without
-- the runs of the firing groups nested in it (a cohort does not stand for its tenant).
finer_runs as (
    select distinct
        nested.agent_name,
        nested.by_dim as dim,
        nested.by_value as dim_value,
        members.run_id
    from nested
    inner join members
        on nested.agent_name = members.agent_name
            and nested.dim = members.dim
            and nested.dim_value = members.dim_value
),

standing_rows as (
    select
        ordered.agent_name,
        ordered.dim,
        ordered.dim_value,
        ordered.base_q,
        ordinary.is_base,
        ordinary.cost_usd,
        ordinary.step_cost_usd
    from ordered
    inner join ordinary
        on ordered.agent_name = ordinary.agent_name
            and ordered.dim = ordinary.dim
            and ordered.dim_value = ordinary.dim_value
    left join finer_runs
        on
            ordered.agent_name = finer_runs.agent_name
            and ordered.dim = finer_runs.dim
            and ordered.dim_value = finer_runs.dim_value
            and ordinary.run_id = finer_runs.run_id
    where finer_runs.run_id is null and (ordinary.is_base or ordinary.age_minutes < ordered.win)
),

standing_counts as (
    select
        agent_name,
        dim,
        dim_value,
        count(*) filter (where not is_base) as n_cur,
        count(*) filter (where is_base) as n_base,
        count(*) filter (where not is_base and cost_usd > base_q) as k,
        count(*) filter (where is_base and cost_usd > base_q) as j,
        sum(placement) filter (where not is_base) as u_cur,
        -- What is left is material on its own: a group is named only then (as an
        -- explainer of the groups nested in it, significance is enough).
        coalesce(
            greatest(
                quantile_cont(cost_usd, $tail_quantile) filter (where not is_base)
                / quantile_cont(cost_usd, $tail_quantile) filter (where is_base),
                quantile_cont(cost_usd, $shift_quantile) filter (where not is_base)
                / quantile_cont(cost_usd, $shift_quantile) filter (where is_base)
            ) >= $min_ratio,
            false
        ) as is_material
    from (
        select
            *,
            sum(case when is_base then 1 else 0 end)
                over (
                    partition by agent_name, dim, dim_value
                    order by step_cost_usd
                    range between unbounded preceding and current row
                )
            - 0.5 * sum(case when is_base then 1 else 0 end) over (
                partition by agent_name, dim, dim_value, step_cost_usd
            ) as placement
        from standing_rows
    ) as with_placement
    group by agent_name, dim, dim_value
),

standing as (
    select
        group_tests.agent_name,
        group_tests.dim,
        group_tests.dim_value,
        group_tests.is_material
    from standing_counts as group_tests
    cross join family
    cross join settings
    cross join lateral generate_series(group_tests.k, group_tests.n_cur) as outcomes (x)
    where
        group_tests.n_cur >= settings.min_n
        and group_tests.n_base >= settings.min_n
        and group_tests.j < group_tests.n_base
        and group_tests.k > group_tests.n_cur * (group_tests.j + 1.0) / (group_tests.n_base + 1.0)
    group by
        group_tests.agent_name,
        group_tests.dim,
        group_tests.dim_value,
        group_tests.n_cur,
        group_tests.n_base,
        group_tests.k,
        group_tests.j,
        group_tests.is_material,
        family.m
    having
        sum(exp(
            lgamma(group_tests.n_cur + 1)
            - lgamma(outcomes.x + 1)
            - lgamma(group_tests.n_cur - outcomes.x + 1)
            + lgamma(outcomes.x + group_tests.j + 1)
            + lgamma(group_tests.n_cur - outcomes.x + group_tests.n_base - group_tests.j)
            - lgamma(group_tests.n_cur + group_tests.n_base + 1)
            - lgamma(group_tests.j + 1)
            - lgamma(group_tests.n_base - group_tests.j)
            + lgamma(group_tests.n_base + 1)
        )) < $alpha / family.m
    union
    select
        shifted.agent_name,
        shifted.dim,
        shifted.dim_value,
        shifted.is_material
    from (
        select
            *,
            (u_cur - n_cur * n_base / 2.0)
            / sqrt(n_cur * n_base * (n_cur + n_base + 1) / 12.0) as z
        from standing_counts
    ) as shifted
    cross join family
    cross join settings
    where
        shifted.n_cur >= settings.min_n
        and shifted.n_base >= settings.min_n
        and shifted.z > 0
        and exp(-shifted.z * shifted.z / 2.0) / sqrt(2.0 * pi())
        / (0.661 * shifted.z + 0.339 * sqrt(shifted.z * shifted.z + 5.51))
        < $alpha / family.m
),

-- Step 2, rest of the group: a standing firing group nested in a coarser standing group
-- (material or not) is explained by it unless its runs changed more than the rest of that
-- group's (a cohort-wide jump names the cohort, not its large tenants; a jump draining
-- from a cohort's hour is not named on a tenant that drains a little slower; an agent-wide
-- small drift does not hide a tenant's own jump). Each current run of the coarser group,
-- in the finer one's window, is placed among the baseline of its own part (the finer group,
-- or the rest), as a fraction; under "both parts changed alike" the two parts' fractions
-- are exchangeable, and the finer group differs when its fractions rank above the rest's
-- (rank-sum, at the family's alpha / m).
contrast_rows as (
    select
        nested.*,
        ordinary.is_base,
        ordinary.step_cost_usd,
        finer_members.run_id is not null as is_finer
    from nested
    inner join standing as finer_standing
        on nested.agent_name = finer_standing.agent_name
            and nested.dim = finer_standing.dim
            and nested.dim_value = finer_standing.dim_value
    inner join standing as coarser_standing
        on nested.agent_name = coarser_standing.agent_name
            and nested.by_dim = coarser_standing.dim
            and nested.by_value = coarser_standing.dim_value
    inner join ordinary
        on nested.agent_name = ordinary.agent_name
            and nested.by_dim = ordinary.dim
            and nested.by_value = ordinary.dim_value
    left join members as finer_members
        on
            nested.agent_name = finer_members.agent_name
            and nested.dim = finer_members.dim
            and nested.dim_value = finer_members.dim_value
            and ordinary.run_id = finer_members.run_id
    where
        finer_standing.is_material
        and (ordinary.is_base or ordinary.age_minutes < nested.win)
),

contrast_fractions as (
    select
        *,
        count(*) filter (where is_base) over (
            partition by agent_name, dim, dim_value, by_dim, by_value, is_finer
        ) as n_part_base,
        (
            sum(case when is_base then 1 else 0 end)
                over (
                    partition by agent_name, dim, dim_value, by_dim, by_value, is_finer
                    order by step_cost_usd
                    range between unbounded preceding and current row
                )
            - 0.5 * sum(case when is_base then 1 else 0 end) over (
                partition by agent_name, dim, dim_value, by_dim, by_value, is_finer, step_cost_usd
            )
        ) / count(*) filter (where is_base) over (
            partition by agent_name, dim, dim_value, by_dim, by_value, is_finer
        ) as fraction
    from contrast_rows
),

contrast_counts as (
    select
        agent_name,
        dim,
        dim_value,
        by_dim,
        by_value,
        min(n_part_base) as n_part_base,
        count(*) filter (where is_finer) as n_finer,
        count(*) filter (where not is_finer) as n_rest,
        sum(placement) filter (where is_finer) as u_finer
    from (
        select
            *,
            sum(case when is_finer then 0 else 1 end)
                over (
                    partition by agent_name, dim, dim_value, by_dim, by_value
                    order by fraction
                    range between unbounded preceding and current row
                )
            - 0.5 * sum(case when is_finer then 0 else 1 end) over (
                partition by agent_name, dim, dim_value, by_dim, by_value, fraction
            ) as placement
        from contrast_fractions
        where not is_base
    ) as with_placement
    group by agent_name, dim, dim_value, by_dim, by_value
),

differs as (
    select
        contrasted.agent_name,
        contrasted.dim,
        contrasted.dim_value,
        contrasted.by_dim,
        contrasted.by_value
    from (
        select
            *,
            (u_finer - n_finer * n_rest / 2.0)
            / sqrt(n_finer * n_rest * (n_finer + n_rest + 1) / 12.0) as z
        from contrast_counts
    ) as contrasted
    cross join family
    cross join settings
    where
        contrasted.n_rest >= settings.min_n
        and contrasted.n_part_base >= settings.min_n
        and contrasted.z > 0
        and exp(-contrasted.z * contrasted.z / 2.0) / sqrt(2.0 * pi())
        / (0.661 * contrasted.z + 0.339 * sqrt(contrasted.z * contrasted.z + 5.51))
        < $alpha / family.m
),

explanations as (
    select distinct
        contrast_rows.agent_name,
        contrast_rows.dim,
        contrast_rows.dim_value,
        contrast_rows.by_dim,
        contrast_rows.by_value
    from contrast_rows
    left join differs
        on contrast_rows.agent_name = differs.agent_name
            and contrast_rows.dim = differs.dim
            and contrast_rows.dim_value = differs.dim_value
            and contrast_rows.by_dim = differs.by_dim
            and contrast_rows.by_value = differs.by_value
    where differs.agent_name is null
),

named as (
    select ordered.*
    from ordered
    inner join standing
        on ordered.agent_name = standing.agent_name
            and ordered.dim = standing.dim
            and ordered.dim_value = standing.dim_value
    where
        ordered.is_material
        and standing.is_material
        and not exists (
            select 1
            from explanations
            where ordered.agent_name = explanations.agent_name
                and ordered.dim = explanations.dim
                and ordered.dim_value = explanations.dim_value
        )
),

-- The groups a named group may be explained by in step 3, all standing: the named ones and
-- the groups that explained a firing group in step 2 (a jump draining from a cohort,
-- explaining its large tenant, also explains a workflow its runs cross) explain any named
-- group; the other standing groups (material or not) only the named groups they cross
-- (neither holds the other's runs).
explaining as (
    select
        ordered.*,
        exists (
            select 1
            from named
            where ordered.agent_name = named.agent_name
                and ordered.dim = named.dim
                and ordered.dim_value = named.dim_value
        )
        or exists (
            select 1
            from explanations
            where ordered.agent_name = explanations.agent_name
                and ordered.dim = explanations.by_dim
                and ordered.dim_value = explanations.by_value
        ) as explains_any
    from ordered
    where exists (
            select 1
            from standing
            where ordered.agent_name = standing.agent_name
                and ordered.dim = standing.dim
                and ordered.dim_value = standing.dim_value
        )
),

-- Step 3, strongest first (scan statistic): a named group is reported if it stays
-- significant without the runs of the explaining groups with a larger statistic, so a
-- group crossing the cause (a model the jumping tenant uses) does not report it twice, nor
-- a variant that a cohort's draining jump crosses once the cohort is under the gate (still
-- significant, it explains the variant's excess; seed 19's cohort fleet).
stronger_runs as (
    select distinct
        named_group.agent_name,
        named_group.dim,
        named_group.dim_value,
        members.run_id
    from named as named_group
    inner join explaining as stronger_group
        on
            named_group.agent_name = stronger_group.agent_name
            and (
                named_group.llr < stronger_group.llr
                or (named_group.llr = stronger_group.llr and named_group.pos > stronger_group.pos)
            )
    inner join members
        on stronger_group.agent_name = members.agent_name
            and stronger_group.dim = members.dim
            and stronger_group.dim_value = members.dim_value
    where
        stronger_group.explains_any
        or not exists (
            select 1
            from holds
            where holds.agent_name = named_group.agent_name
                and (
                    (
                        holds.dim = named_group.dim
                        and holds.dim_value = named_group.dim_value
                        and holds.by_dim = stronger_group.dim
                        and holds.by_value = stronger_group.dim_value
                    )
                    or (
                        holds.dim = stronger_group.dim
                        and holds.dim_value = stronger_group.dim_value
                        and holds.by_dim = named_group.dim
                        and holds.by_value = named_group.dim_value
                    )
                )
        )
),

reported_rows as (
    select
        named.agent_name,
        named.dim,
        named.dim_value,
        named.base_q,
        ordinary.is_base,
        ordinary.cost_usd,
        ordinary.step_cost_usd
    from named
    inner join ordinary
        on named.agent_name = ordinary.agent_name
            and named.dim = ordinary.dim
            and named.dim_value = ordinary.dim_value
    left join stronger_runs
        on
            named.agent_name = stronger_runs.agent_name
            and named.dim = stronger_runs.dim
            and named.dim_value = stronger_runs.dim_value
            and ordinary.run_id = stronger_runs.run_id
    where stronger_runs.run_id is null and (ordinary.is_base or ordinary.age_minutes < named.win)
),

reported_counts as (
    select
        agent_name,
        dim,
        dim_value,
        count(*) filter (where not is_base) as n_cur,
        count(*) filter (where is_base) as n_base,
        count(*) filter (where not is_base and cost_usd > base_q) as k,
        count(*) filter (where is_base and cost_usd > base_q) as j,
        sum(placement) filter (where not is_base) as u_cur
    from (
        select
            *,
            sum(case when is_base then 1 else 0 end)
                over (
                    partition by agent_name, dim, dim_value
                    order by step_cost_usd
                    range between unbounded preceding and current row
                )
            - 0.5 * sum(case when is_base then 1 else 0 end) over (
                partition by agent_name, dim, dim_value, step_cost_usd
            ) as placement
        from reported_rows
    ) as with_placement
    group by agent_name, dim, dim_value
),

reported as (
    select
        group_tests.agent_name,
        group_tests.dim,
        group_tests.dim_value
    from reported_counts as group_tests
    cross join family
    cross join settings
    cross join lateral generate_series(group_tests.k, group_tests.n_cur) as outcomes (x)
    where
        group_tests.n_cur >= settings.min_n
        and group_tests.n_base >= settings.min_n
        and group_tests.j < group_tests.n_base
        and group_tests.k > group_tests.n_cur * (group_tests.j + 1.0) / (group_tests.n_base + 1.0)
    group by
        group_tests.agent_name,
        group_tests.dim,
        group_tests.dim_value,
        group_tests.n_cur,
        group_tests.n_base,
        group_tests.k,
        group_tests.j,
        family.m
    having
        sum(exp(
            lgamma(group_tests.n_cur + 1)
            - lgamma(outcomes.x + 1)
            - lgamma(group_tests.n_cur - outcomes.x + 1)
            + lgamma(outcomes.x + group_tests.j + 1)
            + lgamma(group_tests.n_cur - outcomes.x + group_tests.n_base - group_tests.j)
            - lgamma(group_tests.n_cur + group_tests.n_base + 1)
            - lgamma(group_tests.j + 1)
            - lgamma(group_tests.n_base - group_tests.j)
            + lgamma(group_tests.n_base + 1)
        )) < $alpha / family.m
    union
    select
        shifted.agent_name,
        shifted.dim,
        shifted.dim_value
    from (
        select
            *,
            (u_cur - n_cur * n_base / 2.0)
            / sqrt(n_cur * n_base * (n_cur + n_base + 1) / 12.0) as z
        from reported_counts
    ) as shifted
    cross join family
    cross join settings
    where
        shifted.n_cur >= settings.min_n
        and shifted.n_base >= settings.min_n
        and shifted.z > 0
        and exp(-shifted.z * shifted.z / 2.0) / sqrt(2.0 * pi())
        / (0.661 * shifted.z + 0.339 * sqrt(shifted.z * shifted.z + 5.51))
        < $alpha / family.m
),

kept as (
    select named.*
    from named
    inner join reported
        on named.agent_name = reported.agent_name
            and named.dim = reported.dim
            and named.dim_value = reported.dim_value
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
