-- correlated_failure: one tool fails far more often than usual, for the fleet or for one
-- prompt variant, model, tenant or user cohort.
--
-- Groups: tool_name alone, and tool_name x each value of each dimension listed in
-- $dimensions (contract names; shipped: prompt_variant, model, tenant_id, user_cohort).
-- Current window: tool calls that ended in ($eval_at - window, $eval_at]; baseline: calls
-- that ended in the baseline_minutes before it (the current window is never in its baseline).
--
-- Test: Fisher's exact test, one-sided. Given the errors of both windows, the number of
-- them that fall in the current window is hypergeometric under "the error rate did not
-- change"; the p-value is its upper tail, summed exactly with lgamma (no approximation).
-- Fires when: at least min_errors errors, from at least min_error_runs distinct runs (one
-- run retrying a call is not a correlated failure), and min_calls calls in the window,
-- min_baseline_calls in the baseline, rate ratio >= min_ratio, and p-value < alpha / m.
-- m (Tarone's modified Bonferroni): of the groups with enough calls, those whose smallest
-- attainable p-value (every error of both windows in the current one) can reach alpha / m;
-- a tenant with two errors in six hours can never be significant and costs nothing.
-- Overlapping groups report once: per tool, the firing group with the largest scan
-- statistic (log-likelihood ratio of "elevated inside this group") is reported, plus any
-- other firing group whose calls outside it still pass the test (an independent failure).
-- So a failure in one prompt variant reports that variant, not the tool, the models or
-- the cohorts its traffic happens to use; a failure of the whole tool reports the tool.
-- value = current error rate / baseline error rate (baseline rate with one pseudo-error in
-- one pseudo-call, so a baseline without errors gives a finite ratio).
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
                        'correlated_failure: params.dimensions may list prompt_variant, model, '
                        || 'tenant_id, user_cohort, workflow, environment, user_id, session_id'
                    )
            else $dimensions
        end as dims
),

calls as (
    select
        run_id,
        tool_name,
        is_error,
        ended_at > $eval_at - $window_minutes * interval '1 minute' as is_current
    from fct_tool_calls
    where
        ended_at <= $eval_at
        and ended_at > $eval_at - ($window_minutes + $baseline_minutes) * interval '1 minute'
        and tool_name is not null
),

-- The finest cells (a tool and one value of every dimension); every group below is a sum
-- of cells. The run's dimensions come from fct_runs (the model is the run's main model).
cells as (
    select
        *,
        row_number() over () as cell_id
    from (
        select
            calls.tool_name,
            fct_runs.prompt_variant,
            fct_runs.model,
            fct_runs.tenant_id,
            fct_runs.user_cohort,
            fct_runs.workflow,
            fct_runs.environment,
            fct_runs.user_id,
            fct_runs.session_id,
            count(*) filter (where calls.is_current) as n_cur,
            count(*) filter (where calls.is_current and calls.is_error) as k_cur,
            -- A run falls in one cell per tool, so these add up to distinct runs per group.
            count(distinct calls.run_id) filter (where calls.is_current and calls.is_error)
                as r_cur,
            count(*) filter (where not calls.is_current) as n_base,
            count(*) filter (where not calls.is_current and calls.is_error) as k_base
        from calls
        inner join fct_runs on calls.run_id = fct_runs.run_id
        group by all
    ) as per_cell
),

-- Each cell belongs to its tool's group and to one group per listed dimension.
cell_members as (
    select by_dimension.*
    from (
        select
            cell_id,
            tool_name,
            unnest([
                'tool', 'prompt_variant', 'model', 'tenant_id', 'user_cohort', 'workflow',
                'environment', 'user_id', 'session_id'
            ]) as dim,
            unnest([
                '', prompt_variant, model, tenant_id, user_cohort, workflow,
                environment, user_id, session_id
            ]) as dim_value
        from cells
    ) as by_dimension
    cross join settings
    where by_dimension.dim = 'tool'
        or (list_contains(settings.dims, by_dimension.dim) and by_dimension.dim_value is not null)
),

groups as (
    select
        cell_members.tool_name,
        cell_members.dim,
        cell_members.dim_value,
        sum(cells.n_cur) as n_cur,
        sum(cells.k_cur) as k_cur,
        sum(cells.r_cur) as r_cur,
        sum(cells.n_base) as n_base,
        sum(cells.k_base) as k_base
    from cell_members
    inner join cells on cell_members.cell_id = cells.cell_id
    group by cell_members.tool_name, cell_members.dim, cell_members.dim_value
),

-- Groups with enough calls, with the smallest p-value each could attain: all K errors of
-- both windows in the current one, P(X = min(K, n)) of the hypergeometric.
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
    where n_cur >= $min_calls and n_base >= $min_baseline_calls
),

-- Tarone: m = the smallest m with at most m groups whose min_p <= alpha / m; with min_p
-- sorted ascending that is the smallest r - 1 (r >= 2) whose min_p > alpha / (r - 1).
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

tested as (
    select
        enough.*,
        family.m as n_tests
    from enough
    cross join family
    where enough.min_p <= $alpha / family.m
),

candidates as (
    select *
    from tested
    where
        k_cur >= $min_errors
        and r_cur >= $min_error_runs
        and (k_cur * 1.0 / n_cur) / ((k_base + 1.0) / (n_base + 1.0)) >= $min_ratio
),

-- For two overlapping candidates f and g of one tool: f's calls outside g.
residuals as (
    select
        tested_group.tool_name,
        tested_group.dim,
        tested_group.dim_value,
        other_group.dim as by_dim,
        other_group.dim_value as by_value,
        tested_group.n_tests,
        coalesce(sum(cells.n_cur), 0) as n_cur,
        coalesce(sum(cells.k_cur), 0) as k_cur,
        coalesce(sum(cells.r_cur), 0) as r_cur,
        coalesce(sum(cells.n_base), 0) as n_base,
        coalesce(sum(cells.k_base), 0) as k_base
    from candidates as tested_group
    inner join candidates as other_group
        on tested_group.tool_name = other_group.tool_name
            and (
                tested_group.dim != other_group.dim
                or tested_group.dim_value != other_group.dim_value
            )
    inner join cell_members as tested_cells
        on tested_group.tool_name = tested_cells.tool_name
            and tested_group.dim = tested_cells.dim
            and tested_group.dim_value = tested_cells.dim_value
    left join cell_members as other_cells
        on
            other_group.tool_name = other_cells.tool_name
            and other_group.dim = other_cells.dim
            and other_group.dim_value = other_cells.dim_value
            and tested_cells.cell_id = other_cells.cell_id
    left join cells on tested_cells.cell_id = cells.cell_id and other_cells.cell_id is null
    group by
        tested_group.tool_name,
        tested_group.dim,
        tested_group.dim_value,
        other_group.dim,
        other_group.dim_value,
        tested_group.n_tests
),

-- Everything to test: the candidates themselves (by_dim '') and residuals passing the gates.
units as (
    select
        tool_name,
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
        tool_name,
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
        n_cur >= $min_calls
        and n_base >= $min_baseline_calls
        and k_cur >= $min_errors
        and r_cur >= $min_error_runs
        and (k_cur * 1.0 / n_cur) / ((k_base + 1.0) / (n_base + 1.0)) >= $min_ratio
),

-- Upper tail of the hypergeometric: N = n_cur + n_base calls, K = k_cur + k_base errors,
-- n_cur drawn; P(X >= k_cur) = sum over x of C(K, x) C(N - K, n_cur - x) / C(N, n_cur).
significant as (
    select
        units.tool_name,
        units.dim,
        units.dim_value,
        units.by_dim,
        units.by_value
    from units
    cross join
        lateral generate_series(
            cast(units.k_cur as bigint),
            cast(least(units.n_cur, units.k_cur + units.k_base) as bigint)
        ) as outcome (x)
    group by
        units.tool_name, units.dim, units.dim_value, units.by_dim, units.by_value,
        units.n_tests, units.n_cur, units.k_cur, units.n_base, units.k_base
    having sum(exp(
            lgamma(units.k_cur + units.k_base + 1)
            - lgamma(outcome.x + 1)
            - lgamma(units.k_cur + units.k_base - outcome.x + 1)
            + lgamma(units.n_cur - units.k_cur + units.n_base - units.k_base + 1)
            - lgamma(units.n_cur - outcome.x + 1)
            - lgamma(units.n_base - units.k_base - units.k_cur + outcome.x + 1)
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
            candidates.tool_name = significant.tool_name
            and candidates.dim = significant.dim
            and candidates.dim_value = significant.dim_value
            and significant.by_dim = ''
),

-- Scan statistic: the log-likelihood ratio of "errors elevated inside this group only".
-- Diluting the cause with healthy calls lowers it, and so does cutting the cause short, so
-- the group with the largest ratio names the cause best (Kulldorff's scan statistic).
scored as (
    select
        *,
        k_cur * ln((k_cur * 1.0 / n_cur) / ((k_base + 1.0) / (n_base + 1.0)))
        + (n_cur - k_cur) * ln(
            greatest(1.0 - k_cur * 1.0 / n_cur, 1e-12) / (1.0 - (k_base + 1.0) / (n_base + 1.0))
        ) as llr
    from firing
),

-- Groups whose statistic is within 5 of the largest explain the errors about as well (a
-- likelihood ratio under e^5): among those, the more specific dimension names the cause,
-- so nearly identical groups (a tool used by one variant only) give one stable identity.
ranked as (
    select
        *,
        row_number() over (
            partition by tool_name
            order by
                llr < top_llr - 5 asc,
                case dim
                    when 'prompt_variant' then 1 when 'model' then 2 when 'user_cohort' then 3
                    when 'tenant_id' then 4 when 'workflow' then 5 when 'environment' then 6
                    when 'user_id' then 7 when 'session_id' then 8 else 9
                end asc,
                llr desc,
                dim_value asc
        ) as pick
    from (
        select
            *,
            max(llr) over (partition by tool_name) as top_llr
        from scored
    ) as with_top
),

primaries as (
    select *
    from ranked
    where pick = 1
),

-- Another firing group of the tool is reported too only if its calls outside the primary
-- group still pass the test on their own (a second, independent failure).
kept as (
    select *
    from primaries
    union all
    select ranked.*
    from ranked
    inner join primaries on ranked.tool_name = primaries.tool_name
    inner join significant
        on
            ranked.tool_name = significant.tool_name
            and ranked.dim = significant.dim
            and ranked.dim_value = significant.dim_value
            and primaries.dim = significant.by_dim
            and primaries.dim_value = significant.by_value
    where ranked.dim != primaries.dim or ranked.dim_value != primaries.dim_value
),

final as (
    select
        -- Not labels (excluded below): only for the order.
        dim,
        dim_value,
        tool_name,
        k_cur as errors,
        n_cur as calls,
        case when dim = 'prompt_variant' then dim_value end as prompt_variant,
        case when dim = 'model' then dim_value end as model,
        case when dim = 'tenant_id' then dim_value end as tenant_id,
        case when dim = 'user_cohort' then dim_value end as user_cohort,
        case when dim = 'workflow' then dim_value end as workflow,
        case when dim = 'environment' then dim_value end as environment,
        case when dim = 'user_id' then dim_value end as user_id,
        case when dim = 'session_id' then dim_value end as session_id,
        round((k_cur * 1.0 / n_cur) / ((k_base + 1.0) / (n_base + 1.0)), 3) as value,
        round(k_cur * 100.0 / n_cur, 1) as error_pct,
        round((k_base + 1.0) * 100.0 / (n_base + 1.0), 1) as baseline_pct
    from kept
)

select * exclude (dim, dim_value) from final
order by tool_name, dim, dim_value
