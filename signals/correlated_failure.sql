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
            c.tool_name,
            r.prompt_variant,
            r.model,
            r.tenant_id,
            r.user_cohort,
            r.workflow,
            r.environment,
            r.user_id,
            r.session_id,
            count(*) filter (where c.is_current) as n_cur,
            count(*) filter (where c.is_current and c.is_error) as k_cur,
            -- A run falls in one cell per tool, so these add up to distinct runs per group.
            count(distinct c.run_id) filter (where c.is_current and c.is_error) as r_cur,
            count(*) filter (where not c.is_current) as n_base,
            count(*) filter (where not c.is_current and c.is_error) as k_base
        from calls as c
        inner join fct_runs as r on c.run_id = r.run_id
        group by all
    ) as g
),

-- Each cell belongs to its tool's group and to one group per listed dimension.
cell_members as (
    select u.*
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
    ) as u
    cross join settings as s
    where u.dim = 'tool' or (list_contains(s.dims, u.dim) and u.dim_value is not null)
),

groups as (
    select
        m.tool_name,
        m.dim,
        m.dim_value,
        sum(c.n_cur) as n_cur,
        sum(c.k_cur) as k_cur,
        sum(c.r_cur) as r_cur,
        sum(c.n_base) as n_base,
        sum(c.k_base) as k_base
    from cell_members as m
    inner join cells as c on m.cell_id = c.cell_id
    group by m.tool_name, m.dim, m.dim_value
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
    ) as e
),

tested as (
    select
        e.*,
        f.m as n_tests
    from enough as e
    cross join family as f
    where e.min_p <= $alpha / f.m
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
        f.tool_name,
        f.dim,
        f.dim_value,
        g.dim as by_dim,
        g.dim_value as by_value,
        f.n_tests,
        coalesce(sum(c.n_cur), 0) as n_cur,
        coalesce(sum(c.k_cur), 0) as k_cur,
        coalesce(sum(c.r_cur), 0) as r_cur,
        coalesce(sum(c.n_base), 0) as n_base,
        coalesce(sum(c.k_base), 0) as k_base
    from candidates as f
    inner join candidates as g
        on f.tool_name = g.tool_name and (f.dim != g.dim or f.dim_value != g.dim_value)
    inner join cell_members as fm
        on f.tool_name = fm.tool_name and f.dim = fm.dim and f.dim_value = fm.dim_value
    left join cell_members as gm
        on
            g.tool_name = gm.tool_name
            and g.dim = gm.dim
            and g.dim_value = gm.dim_value
            and fm.cell_id = gm.cell_id
    left join cells as c on fm.cell_id = c.cell_id and gm.cell_id is null
    group by f.tool_name, f.dim, f.dim_value, g.dim, g.dim_value, f.n_tests
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
        u.tool_name,
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
        u.tool_name, u.dim, u.dim_value, u.by_dim, u.by_value,
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
            c.tool_name = s.tool_name
            and c.dim = s.dim
            and c.dim_value = s.dim_value
            and s.by_dim = ''
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
    ) as s
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
    select f.*
    from ranked as f
    inner join primaries as p on f.tool_name = p.tool_name
    inner join significant as s
        on
            f.tool_name = s.tool_name
            and f.dim = s.dim
            and f.dim_value = s.dim_value
            and p.dim = s.by_dim
            and p.dim_value = s.by_value
    where f.dim != p.dim or f.dim_value != p.dim_value
)

select
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
order by tool_name, dim, dim_value
