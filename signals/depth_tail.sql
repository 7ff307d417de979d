-- depth_tail: more runs than usual go deeper than the group's own baseline tail.
--
-- Groups: agent_name x each value of each dimension listed in $dimensions (contract names;
-- agent_name itself means the agent overall). Shipped: agent_name, prompt_variant, model
-- (a run's model here is the model of its first LLM call, fixed before its depth unfolds:
-- docs/shipped-signals.md); the other contract dimensions are accepted. Current window:
-- runs that completed ok in ($eval_at - window, $eval_at]; baseline: those in the
-- baseline_minutes before it. Only ok runs: a silent loop ends ok, while deep failures
-- show in error rates and stuck runs in stuck_agent.
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
-- The most specific group names the loops, once per agent (docs/shipped-signals.md):
-- (1) Finer first: a firing group does not stand when its runs outside the firing groups
-- nested in it (of one dimension) are enough to judge and no longer pass the test (the
-- agent overall does not stand for its looping variant); enough to judge: going deep as
-- often as the nested groups' runs do, they would hold min_deep_runs deep runs.
-- (2) Overlapping groups: a group that no longer passes without another's runs is
-- explained by it, and gives way to it unless it explains that one too; of two groups
-- explaining each other (a variant and the model carrying nearly all its runs; an agent
-- and the variant holding most of its runs) the one whose own runs outside the other still
-- go deep (exact test at alpha) names the loops; both: the larger scan statistic
-- (log-likelihood ratio of "more deep runs inside this group"); neither: the more specific
-- dimension, a stable name (the larger statistic alone flipped with noise, restarting
-- `for`). Together: a group whose runs outside the groups of one other dimension that pass
-- without its runs and do not give way (enough to judge, as in (1)) no longer pass the test
-- is explained by them together and gives way, unless one of them is explained so too (a
-- model carrying most runs of two looping variants and healthy runs of a third: without
-- one variant's runs it still passes on the other's, so one at a time never explained it).
-- (3) Among the groups left, the largest scan statistic names the cause; another
-- firing group of the agent is reported only if its runs outside the named group still
-- pass the test.
-- value = current share deeper than t / baseline share deeper than t.
with

settings as (
    select
        case
            when
                len(list_filter(
                    $dimensions,
                    lambda d: d not in (
                        'agent_name', 'prompt_variant', 'model', 'tenant_id', 'user_cohort',
                        'workflow', 'environment', 'user_id', 'session_id'
                    )
                )) > 0
                then error(
                        'depth_tail: params.dimensions may list agent_name, prompt_variant, '
                        || 'model, tenant_id, user_cohort, workflow, environment, user_id, '
                        || 'session_id'
                    )
            else $dimensions
        end as dims
),

completed as (
    select
        run_id,
        agent_name,
        prompt_variant,
        tenant_id,
        user_cohort,
        workflow,
        environment,
        user_id,
        session_id,
        step_count,
        started_at,
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

-- A run's model here is the model of its first LLM call: fixed before the run's depth
-- unfolds. (fct_runs.model, the model most of its calls used, is decided by a loop's own
-- calls: grouping by it would put every deep run on the model the loop calls.)
first_models as (
    select
        fct_llm_calls.run_id,
        first(fct_llm_calls.model order by fct_llm_calls.started_at, fct_llm_calls.span_id)
            as model
    from fct_llm_calls
    inner join completed on fct_llm_calls.run_id = completed.run_id
    where
        list_contains((select settings.dims from settings), 'model')
        and fct_llm_calls.started_at >= (select min(earliest.started_at) from completed as earliest)
    group by fct_llm_calls.run_id
),

runs as (
    select
        completed.*,
        first_models.model
    from completed
    left join first_models on completed.run_id = first_models.run_id
),

-- Each run is a member of one group per listed dimension (and of its agent's, if listed).
unpivoted as (
    select
        run_id,
        agent_name,
        step_count,
        is_current,
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

members as (
    select unpivoted.*
    from unpivoted
    cross join settings
    where
        (unpivoted.dim = 'agent' and list_contains(settings.dims, 'agent_name'))
        or (list_contains(settings.dims, unpivoted.dim) and unpivoted.dim_value is not null)
),

baseline as (
    select
        agent_name,
        dim,
        dim_value,
        count(*) as n_base,
        quantile_disc(step_count, $tail_quantile) as base_q
    from members
    where not is_current
    group by agent_name, dim, dim_value
    having count(*) >= $min_baseline_runs
),

tested as (
    select
        baseline.agent_name,
        baseline.dim,
        baseline.dim_value,
        baseline.n_base,
        baseline.base_q,
        count(*) filter (where members.is_current) as n_cur,
        count(*) filter (where members.is_current and members.step_count > baseline.base_q)
            as k_cur,
        count(*) filter (where not members.is_current and members.step_count > baseline.base_q)
            as j_base
    from members
    inner join baseline
        on members.agent_name = baseline.agent_name
            and members.dim = baseline.dim
            and members.dim_value = baseline.dim_value
    group by baseline.agent_name, baseline.dim, baseline.dim_value, baseline.n_base, baseline.base_q
    having count(*) filter (where members.is_current) >= $min_runs
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

-- Upper tail of the beta-binomial(n_cur, a = j_base + 1, b = n_base - j_base), in logs;
-- with the scan statistic.
firing as (
    select
        candidates.agent_name,
        candidates.dim,
        candidates.dim_value,
        candidates.n_tests,
        candidates.n_base,
        candidates.base_q,
        candidates.n_cur,
        candidates.k_cur,
        candidates.j_base,
        candidates.ratio,
        candidates.k_cur * ln(candidates.ratio)
        + (candidates.n_cur - candidates.k_cur) * ln(
            greatest(1.0 - candidates.k_cur * 1.0 / candidates.n_cur, 1e-12)
            / (1.0 - (candidates.j_base + 1.0) / (candidates.n_base + 1.0))
        ) as llr
    from candidates
    cross join lateral generate_series(candidates.k_cur, candidates.n_cur) as outcome (x)
    group by all
    having
        sum(exp(
            lgamma(candidates.n_cur + 1)
            - lgamma(outcome.x + 1)
            - lgamma(candidates.n_cur - outcome.x + 1)
            + lgamma(outcome.x + candidates.j_base + 1)
            + lgamma(candidates.n_cur - outcome.x + candidates.n_base - candidates.j_base)
            - lgamma(candidates.n_cur + candidates.n_base + 1)
            - lgamma(candidates.j_base + 1)
            - lgamma(candidates.n_base - candidates.j_base)
            + lgamma(candidates.n_base + 1)
        )) < $alpha / candidates.n_tests
),

-- Finer first: order the firing groups of an agent by current runs (fewest first; groups
-- holding the same runs by dimension, the most specific first) and pair each with the
-- coarser firing groups that hold all its runs (a variant in its agent; a model only one
-- variant uses, in that variant). Dimensions that cross (a variant and a model) are not
-- nested.
ordered as (
    select
        *,
        row_number() over (
            partition by agent_name order by n_cur asc, dim_rank asc, dim_value asc
        ) as pos
    from (
        select
            *,
            case
                -- A model every run of the agent starts on says no more than the agent
                -- (and does not point at a model change): after it. (A variant holding
                -- every run keeps its place: an agent with one variant is named by it.)
                when dim = 'model' and n_cur = agent_runs and n_base = agent_base_runs then 10
                when dim = 'session_id' then 1
                when dim = 'user_id' then 2
                when dim = 'tenant_id' then 3
                when dim = 'workflow' then 4
                when dim = 'prompt_variant' then 5
                when dim = 'model' then 6
                when dim = 'user_cohort' then 7
                when dim = 'environment' then 8
                else 9
            end as dim_rank
        from (
            select
                *,
                max(n_cur) filter (where dim = 'agent') over (partition by agent_name)
                    as agent_runs,
                max(n_base) filter (where dim = 'agent') over (partition by agent_name)
                    as agent_base_runs
            from firing
        ) as with_agent
    ) as with_rank
),

nested as (
    select
        finer.agent_name,
        finer.dim,
        finer.dim_value,
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
    group by finer.agent_name, finer.dim, finer.dim_value, coarser.dim, coarser.dim_value
    having count(coarser_members.run_id) = count(*)
),

-- The runs of the firing groups nested in a group, by their dimension (a variant's models).
finer_runs as (
    select distinct
        nested.agent_name,
        nested.by_dim as dim,
        nested.by_value as dim_value,
        nested.dim as finer_dim,
        members.run_id
    from nested
    inner join members
        on nested.agent_name = members.agent_name
            and nested.dim = members.dim
            and nested.dim_value = members.dim_value
),

nested_dims as (
    select distinct
        agent_name,
        dim,
        dim_value,
        finer_dim
    from finer_runs
),

-- Finer first: a firing group does not stand when, for one dimension of the firing groups
-- nested in it, its runs outside them are enough to judge (min_runs current,
-- min_baseline_runs baseline) and no longer pass the test: the agent overall does not
-- stand for its looping variant, nor for two looping variants when its other variants are
-- healthy. Each dimension apart, since crossing dimensions together cover the agent (its
-- models hold all its runs). A rest too small to judge decides nothing here: the group
-- goes on to the pairs below (a variant 92 % of whose runs use one model). Too small also
-- when the rest could not have passed had the loops reached it: at the nested groups' deep
-- share it would hold fewer than min_deep_runs deep runs (seed 11: a variant's 37 runs
-- outside the model 96 % of them start on, 3 deep, would hold 4 at the model's 10 %).
rest_counts as (
    select
        ordered.agent_name,
        ordered.dim,
        ordered.dim_value,
        nested_dims.finer_dim,
        ordered.n_tests,
        count(*) filter (where finer_runs.run_id is null and members.is_current) as n_cur,
        count(*) filter (where finer_runs.run_id is null and not members.is_current) as n_base,
        count(*) filter (
            where finer_runs.run_id is null and members.is_current
            and members.step_count > ordered.base_q
        ) as k_cur,
        count(*) filter (
            where finer_runs.run_id is null and not members.is_current
            and members.step_count > ordered.base_q
        ) as j_base,
        -- The nested groups' own current runs and deep ones (deeper than this group's t).
        count(*) filter (where finer_runs.run_id is not null and members.is_current)
            as inner_cur,
        count(*) filter (
            where finer_runs.run_id is not null and members.is_current
            and members.step_count > ordered.base_q
        ) as inner_deep
    from ordered
    inner join nested_dims
        on ordered.agent_name = nested_dims.agent_name
            and ordered.dim = nested_dims.dim
            and ordered.dim_value = nested_dims.dim_value
    inner join members
        on ordered.agent_name = members.agent_name
            and ordered.dim = members.dim
            and ordered.dim_value = members.dim_value
    left join finer_runs
        on
            nested_dims.agent_name = finer_runs.agent_name
            and nested_dims.dim = finer_runs.dim
            and nested_dims.dim_value = finer_runs.dim_value
            and nested_dims.finer_dim = finer_runs.finer_dim
            and members.run_id = finer_runs.run_id
    group by all
    having count(*) filter (where finer_runs.run_id is null) > 0
),

rest_passes as (
    select
        rest_counts.agent_name,
        rest_counts.dim,
        rest_counts.dim_value,
        rest_counts.finer_dim
    from rest_counts
    cross join lateral generate_series(rest_counts.k_cur, rest_counts.n_cur) as outcome (x)
    where
        rest_counts.k_cur >= $min_deep_runs
        and rest_counts.j_base < rest_counts.n_base
        and (rest_counts.k_cur * 1.0 / rest_counts.n_cur)
        / ((rest_counts.j_base + 1.0) / (rest_counts.n_base + 1.0))
        >= $min_ratio
    group by all
    having
        sum(exp(
            lgamma(rest_counts.n_cur + 1)
            - lgamma(outcome.x + 1)
            - lgamma(rest_counts.n_cur - outcome.x + 1)
            + lgamma(outcome.x + rest_counts.j_base + 1)
            + lgamma(rest_counts.n_cur - outcome.x + rest_counts.n_base - rest_counts.j_base)
            - lgamma(rest_counts.n_cur + rest_counts.n_base + 1)
            - lgamma(rest_counts.j_base + 1)
            - lgamma(rest_counts.n_base - rest_counts.j_base)
            + lgamma(rest_counts.n_base + 1)
        )) < $alpha / rest_counts.n_tests
),

standing_groups as (
    select ordered.*
    from ordered
    where not exists (
            select 1
            from rest_counts
            where rest_counts.agent_name = ordered.agent_name
                and rest_counts.dim = ordered.dim
                and rest_counts.dim_value = ordered.dim_value
                and rest_counts.n_cur >= $min_runs
                and rest_counts.n_base >= $min_baseline_runs
                -- Going deep as often as the nested groups' runs do, the rest would hold
                -- min_deep_runs deep runs: it could have shown the loops.
                and rest_counts.n_cur * rest_counts.inner_deep
                >= $min_deep_runs * rest_counts.inner_cur
                and not exists (
                    select 1
                    from rest_passes
                    where rest_passes.agent_name = rest_counts.agent_name
                        and rest_passes.dim = rest_counts.dim
                        and rest_passes.dim_value = rest_counts.dim_value
                        and rest_passes.finer_dim = rest_counts.finer_dim
                )
        )
),

-- Overlapping groups (crossing, or nested with a rest too small to judge): a standing group
-- is explained by another when it no longer passes the test without the other's runs. A
-- group explained by one it does not explain gives way to it (a variant looping on every
-- model, to the agent looping in all its variants; a variant whose loops are all on one
-- model that loops in other variants too, to the model). Of two groups each explained by
-- the other (near-total overlap: a variant and the model carrying 92 % of its runs), the
-- larger scan statistic names the loops: of the two one-group explanations of the runs
-- the pair holds, the one that fits them better. Runs that loop like the group's own raise
-- a group's statistic and healthy ones lower it (a group's statistic, n x the Kullback-
-- Leibler divergence of its deep share from the baseline's, is convex in the runs added),
-- so the variant whose runs on other models loop too wins over the model, and the model
-- whose other runs are healthy over the variant. Equal statistics (the same runs): the
-- more specific dimension.
crossed_counts as (
    select
        tested_group.agent_name,
        tested_group.dim,
        tested_group.dim_value,
        other_group.dim as by_dim,
        other_group.dim_value as by_value,
        tested_group.n_tests,
        count(*) filter (where members.is_current) as n_cur,
        count(*) filter (where not members.is_current) as n_base,
        count(*) filter (where members.is_current and members.step_count > tested_group.base_q)
            as k_cur,
        count(*) filter (
            where not members.is_current and members.step_count > tested_group.base_q
        ) as j_base
    from standing_groups as tested_group
    inner join standing_groups as other_group
        on
            tested_group.agent_name = other_group.agent_name
            and tested_group.pos != other_group.pos
    inner join members
        on tested_group.agent_name = members.agent_name
            and tested_group.dim = members.dim
            and tested_group.dim_value = members.dim_value
    left join members as other_members
        on
            other_group.agent_name = other_members.agent_name
            and other_group.dim = other_members.dim
            and other_group.dim_value = other_members.dim_value
            and members.run_id = other_members.run_id
    where other_members.run_id is null
    group by all
),

-- The exact upper tail of each group's runs outside another (n_cur = 0: 1).
crossed_tails as (
    select
        crossed_counts.agent_name,
        crossed_counts.dim,
        crossed_counts.dim_value,
        crossed_counts.by_dim,
        crossed_counts.by_value,
        crossed_counts.n_tests,
        crossed_counts.n_cur,
        crossed_counts.n_base,
        crossed_counts.k_cur,
        crossed_counts.j_base,
        sum(exp(
            lgamma(crossed_counts.n_cur + 1)
            - lgamma(outcome.x + 1)
            - lgamma(crossed_counts.n_cur - outcome.x + 1)
            + lgamma(outcome.x + crossed_counts.j_base + 1)
            + lgamma(
                crossed_counts.n_cur - outcome.x + crossed_counts.n_base - crossed_counts.j_base
            )
            - lgamma(crossed_counts.n_cur + crossed_counts.n_base + 1)
            - lgamma(crossed_counts.j_base + 1)
            - lgamma(crossed_counts.n_base - crossed_counts.j_base)
            + lgamma(crossed_counts.n_base + 1)
        )) as p_value
    from crossed_counts
    cross join lateral generate_series(crossed_counts.k_cur, crossed_counts.n_cur) as outcome (x)
    where crossed_counts.j_base < crossed_counts.n_base
    group by all
),

-- (group, by): the group passes the test without by's runs.
survives as (
    select *
    from crossed_tails
    where
        n_cur >= $min_runs
        and n_base >= $min_baseline_runs
        and k_cur >= $min_deep_runs
        and (k_cur * 1.0 / n_cur) / ((j_base + 1.0) / (n_base + 1.0)) >= $min_ratio
        and p_value < $alpha / n_tests
),

-- (group, by): the group's runs outside by's, however few, go deep more often than their
-- baseline (p < alpha: one naming question per pair, not a search over groups): the loops
-- reach beyond by.
reaches_beyond as (
    select *
    from crossed_tails
    where p_value < $alpha
),

-- (group, by): the group does not pass without by's runs.
explained as (
    select
        tested_group.agent_name,
        tested_group.dim,
        tested_group.dim_value,
        tested_group.pos,
        tested_group.dim_rank,
        tested_group.llr,
        other_group.dim as by_dim,
        other_group.dim_value as by_value,
        other_group.pos as by_pos,
        other_group.dim_rank as by_rank,
        other_group.llr as by_llr
    from standing_groups as tested_group
    inner join standing_groups as other_group
        on
            tested_group.agent_name = other_group.agent_name
            and tested_group.pos != other_group.pos
    where not exists (
            select 1
            from survives
            where survives.agent_name = tested_group.agent_name
                and survives.dim = tested_group.dim
                and survives.dim_value = tested_group.dim_value
                and survives.by_dim = other_group.dim
                and survives.by_value = other_group.dim_value
        )
),

gives_way as (
    select distinct
        explained.agent_name,
        explained.dim,
        explained.dim_value
    from explained
    left join explained as back
        on
            explained.agent_name = back.agent_name
            and explained.by_dim = back.dim
            and explained.by_value = back.dim_value
            and explained.dim = back.by_dim
            and explained.dim_value = back.by_value
    left join reaches_beyond as own_beyond
        on
            explained.agent_name = own_beyond.agent_name
            and explained.dim = own_beyond.dim
            and explained.dim_value = own_beyond.dim_value
            and explained.by_dim = own_beyond.by_dim
            and explained.by_value = own_beyond.by_value
    left join reaches_beyond as by_beyond
        on
            explained.agent_name = by_beyond.agent_name
            and explained.by_dim = by_beyond.dim
            and explained.by_value = by_beyond.dim_value
            and explained.dim = by_beyond.by_dim
            and explained.dim_value = by_beyond.by_value
    where
        back.agent_name is null
        -- Each explains the other: the one whose own runs loop beyond the other's names.
        or (by_beyond.agent_name is not null and own_beyond.agent_name is null)
        -- Both (loops on both sides of the overlap): the larger statistic.
        or (
            by_beyond.agent_name is not null
            and own_beyond.agent_name is not null
            and (
                round(explained.by_llr, 6) > round(explained.llr, 6)
                or (
                    round(explained.by_llr, 6) = round(explained.llr, 6)
                    and explained.by_pos < explained.pos
                )
            )
        )
        -- Neither (the loops sit in the overlap): the more specific dimension (a variant
        -- before the model carrying most of it, both before the agent), a stable name.
        or (
            by_beyond.agent_name is null
            and own_beyond.agent_name is null
            and (
                explained.by_rank < explained.dim_rank
                or (explained.by_rank = explained.dim_rank and explained.by_pos < explained.pos)
            )
        )
),

-- Crossing groups together: a standing group whose runs outside the standing groups of one
-- other dimension that each pass without its runs (loops of their own reaching beyond it)
-- are enough to judge (as in step 1) and no longer pass the test is explained by them
-- together, and gives way (a model carrying most runs of two looping variants and healthy
-- runs of a third; one at a time, each variant leaves the other's loops in it).
-- (group, joint group): a standing group of another dimension that passes without the
-- group's runs and does not give way itself.
joint_groups as (
    select
        survives.agent_name,
        survives.by_dim as dim,
        survives.by_value as dim_value,
        survives.dim as joint_dim,
        survives.dim_value as joint_value
    from survives
    where
        survives.dim != survives.by_dim
        and not exists (
            select 1
            from gives_way
            where survives.agent_name = gives_way.agent_name
                and survives.dim = gives_way.dim
                and survives.dim_value = gives_way.dim_value
        )
),

joint_runs as (
    select distinct
        joint_groups.agent_name,
        joint_groups.dim,
        joint_groups.dim_value,
        joint_groups.joint_dim,
        members.run_id
    from joint_groups
    inner join members
        on joint_groups.agent_name = members.agent_name
            and joint_groups.joint_dim = members.dim
            and joint_groups.joint_value = members.dim_value
),

joint_dims as (
    select distinct
        agent_name,
        dim,
        dim_value,
        joint_dim
    from joint_groups
),

joint_counts as (
    select
        standing_groups.agent_name,
        standing_groups.dim,
        standing_groups.dim_value,
        joint_dims.joint_dim,
        standing_groups.n_tests,
        count(*) filter (where joint_runs.run_id is null and members.is_current) as n_cur,
        count(*) filter (where joint_runs.run_id is null and not members.is_current) as n_base,
        count(*) filter (
            where joint_runs.run_id is null and members.is_current
            and members.step_count > standing_groups.base_q
        ) as k_cur,
        count(*) filter (
            where joint_runs.run_id is null and not members.is_current
            and members.step_count > standing_groups.base_q
        ) as j_base,
        count(*) filter (where joint_runs.run_id is not null and members.is_current)
            as inner_cur,
        count(*) filter (
            where joint_runs.run_id is not null and members.is_current
            and members.step_count > standing_groups.base_q
        ) as inner_deep
    from standing_groups
    inner join joint_dims
        on standing_groups.agent_name = joint_dims.agent_name
            and standing_groups.dim = joint_dims.dim
            and standing_groups.dim_value = joint_dims.dim_value
    inner join members
        on standing_groups.agent_name = members.agent_name
            and standing_groups.dim = members.dim
            and standing_groups.dim_value = members.dim_value
    left join joint_runs
        on
            joint_dims.agent_name = joint_runs.agent_name
            and joint_dims.dim = joint_runs.dim
            and joint_dims.dim_value = joint_runs.dim_value
            and joint_dims.joint_dim = joint_runs.joint_dim
            and members.run_id = joint_runs.run_id
    group by all
),

joint_passes as (
    select
        joint_counts.agent_name,
        joint_counts.dim,
        joint_counts.dim_value,
        joint_counts.joint_dim
    from joint_counts
    cross join lateral generate_series(joint_counts.k_cur, joint_counts.n_cur) as outcome (x)
    where
        joint_counts.k_cur >= $min_deep_runs
        and joint_counts.j_base < joint_counts.n_base
        and (joint_counts.k_cur * 1.0 / joint_counts.n_cur)
        / ((joint_counts.j_base + 1.0) / (joint_counts.n_base + 1.0))
        >= $min_ratio
    group by all
    having
        sum(exp(
            lgamma(joint_counts.n_cur + 1)
            - lgamma(outcome.x + 1)
            - lgamma(joint_counts.n_cur - outcome.x + 1)
            + lgamma(outcome.x + joint_counts.j_base + 1)
            + lgamma(joint_counts.n_cur - outcome.x + joint_counts.n_base - joint_counts.j_base)
            - lgamma(joint_counts.n_cur + joint_counts.n_base + 1)
            - lgamma(joint_counts.j_base + 1)
            - lgamma(joint_counts.n_base - joint_counts.j_base)
            + lgamma(joint_counts.n_base + 1)
        )) < $alpha / joint_counts.n_tests
),

joint_fails as (
    select
        joint_counts.agent_name,
        joint_counts.dim,
        joint_counts.dim_value,
        joint_counts.joint_dim
    from joint_counts
    where
        joint_counts.n_cur >= $min_runs
        and joint_counts.n_base >= $min_baseline_runs
        and joint_counts.n_cur * joint_counts.inner_deep
        >= $min_deep_runs * joint_counts.inner_cur
        and not exists (
            select 1
            from joint_passes
            where joint_passes.agent_name = joint_counts.agent_name
                and joint_passes.dim = joint_counts.dim
                and joint_passes.dim_value = joint_counts.dim_value
                and joint_passes.joint_dim = joint_counts.joint_dim
        )
),

-- Only when none of the explaining groups is explained so itself: loops filling a block of
-- two variants x two models (each variant's runs on a third model, each model's of a third
-- variant, healthy) leave every group of the block to the others, and would name none.
jointly_explained as (
    select distinct
        joint_fails.agent_name,
        joint_fails.dim,
        joint_fails.dim_value
    from joint_fails
    where not exists (
            select 1
            from joint_groups
            inner join joint_fails as explainer_fails
                on joint_groups.agent_name = explainer_fails.agent_name
                    and joint_groups.joint_dim = explainer_fails.dim
                    and joint_groups.joint_value = explainer_fails.dim_value
            where joint_groups.agent_name = joint_fails.agent_name
                and joint_groups.dim = joint_fails.dim
                and joint_groups.dim_value = joint_fails.dim_value
                and joint_groups.joint_dim = joint_fails.joint_dim
        )
),

-- The named group per agent, among the standing ones: the largest statistic; groups holding
-- the same runs (an agent with one variant) by the most specific dimension, so they give one
-- stable identity. Near ties are not broken by dimension: a crossing group (a model most of
-- the looping variant's runs use) dilutes the loops with other variants' healthy runs and
-- has the smaller statistic.
ranked as (
    select
        *,
        row_number() over (
            partition by agent_name
            order by
                round(llr, 6) desc,
                case dim
                    when 'session_id' then 1 when 'user_id' then 2 when 'tenant_id' then 3
                    when 'workflow' then 4 when 'prompt_variant' then 5 when 'model' then 6
                    when 'user_cohort' then 7 when 'environment' then 8 else 9
                end asc,
                dim_value asc
        ) as pick
    from standing_groups
    where not exists (
            select 1
            from gives_way
            where standing_groups.agent_name = gives_way.agent_name
                and standing_groups.dim = gives_way.dim
                and standing_groups.dim_value = gives_way.dim_value
        )
        and not exists (
            select 1
            from jointly_explained
            where standing_groups.agent_name = jointly_explained.agent_name
                and standing_groups.dim = jointly_explained.dim
                and standing_groups.dim_value = jointly_explained.dim_value
        )
),

-- Another firing group of the agent, without the named group's runs.
residuals as (
    select
        tested_group.agent_name,
        tested_group.dim,
        tested_group.dim_value,
        tested_group.n_tests,
        count(*) filter (where members.is_current) as n_cur,
        count(*) filter (where not members.is_current) as n_base,
        count(*) filter (where members.is_current and members.step_count > tested_group.base_q)
            as k_cur,
        count(*) filter (
            where not members.is_current and members.step_count > tested_group.base_q
        ) as j_base
    from ranked as tested_group
    inner join
        ranked as named_group
        on tested_group.agent_name = named_group.agent_name and named_group.pick = 1
    inner join members
        on tested_group.agent_name = members.agent_name
            and tested_group.dim = members.dim
            and tested_group.dim_value = members.dim_value
    left join members as named_members
        on
            named_group.agent_name = named_members.agent_name
            and named_group.dim = named_members.dim
            and named_group.dim_value = named_members.dim_value
            and members.run_id = named_members.run_id
    where tested_group.pick > 1 and named_members.run_id is null
    group by tested_group.agent_name, tested_group.dim, tested_group.dim_value, tested_group.n_tests
),

independent as (
    select
        residuals.agent_name,
        residuals.dim,
        residuals.dim_value
    from residuals
    cross join lateral generate_series(residuals.k_cur, residuals.n_cur) as outcome (x)
    where
        residuals.n_cur >= $min_runs
        and residuals.n_base >= $min_baseline_runs
        and residuals.k_cur >= $min_deep_runs
        and residuals.j_base < residuals.n_base
        and (residuals.k_cur * 1.0 / residuals.n_cur)
        / ((residuals.j_base + 1.0) / (residuals.n_base + 1.0))
        >= $min_ratio
    group by all
    having
        sum(exp(
            lgamma(residuals.n_cur + 1)
            - lgamma(outcome.x + 1)
            - lgamma(residuals.n_cur - outcome.x + 1)
            + lgamma(outcome.x + residuals.j_base + 1)
            + lgamma(residuals.n_cur - outcome.x + residuals.n_base - residuals.j_base)
            - lgamma(residuals.n_cur + residuals.n_base + 1)
            - lgamma(residuals.j_base + 1)
            - lgamma(residuals.n_base - residuals.j_base)
            + lgamma(residuals.n_base + 1)
        )) < $alpha / residuals.n_tests
),

kept as (
    select *
    from ranked
    where pick = 1
    union all
    select ranked.*
    from ranked
    where
        ranked.pick > 1
        and exists (
            select 1
            from independent
            where ranked.agent_name = independent.agent_name
                and ranked.dim = independent.dim
                and ranked.dim_value = independent.dim_value
        )
),

final as (
    select
        -- Not labels (excluded below): only for the order.
        dim,
        dim_value,
        agent_name,
        k_cur as deep,
        n_cur as runs,
        base_q as base_p95,
        case when dim = 'prompt_variant' then dim_value end as prompt_variant,
        case when dim = 'model' then dim_value end as model,
        case when dim = 'tenant_id' then dim_value end as tenant_id,
        case when dim = 'user_cohort' then dim_value end as user_cohort,
        case when dim = 'workflow' then dim_value end as workflow,
        case when dim = 'environment' then dim_value end as environment,
        case when dim = 'user_id' then dim_value end as user_id,
        case when dim = 'session_id' then dim_value end as session_id,
        round(ratio, 3) as value
    from kept
)

select * exclude (dim, dim_value) from final
order by agent_name, dim, dim_value
