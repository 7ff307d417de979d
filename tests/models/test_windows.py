"""fct_windows_60m on a real build: prompt variants are grouped per agent x variant."""

from __future__ import annotations

from fleetsignals.home import Home
from tests.fixtures.warehouses import query

# Runs per agent x variant straight from fct_runs, for the window ending at ?.
RUNS_PER_VARIANT = """
    select
        coalesce(agent_name, '(none)'),
        coalesce(prompt_variant, '(none)'),
        count(*)
    from fct_runs
    where status != 'running'
        and (case when status = 'timeout' then timed_out_at else ended_at end)
            between $end - interval 60 minute + interval 1 microsecond and $end
    group by all
    order by all
"""


def test_prompt_variant_rows_are_per_agent(synthetic_home: Home) -> None:
    # The synthetic fleet gives every agent the variants v1 and v2: pooled, one row each.
    shared = query(
        synthetic_home,
        "select prompt_variant, count(distinct agent_name) from fct_runs "
        "where prompt_variant is not null group by 1 order by 1",
    )
    assert shared and all(agents > 1 for _, agents in shared)
    ((end,),) = query(
        synthetic_home,
        "select max(window_end_at) from fct_windows_60m where dimension = 'fleet' and run_count > 0",
    )
    rows = query(
        synthetic_home,
        "select agent_name, dimension_value, run_count from fct_windows_60m "
        "where dimension = 'prompt_variant' and window_end_at = ? order by 1, 2",
        [end],
    )
    expected = query(synthetic_home, RUNS_PER_VARIANT.replace("$end", "?::timestamp"), [end, end])
    assert rows == expected
    assert len({variant for _, variant, _ in rows}) < len(rows)


def test_variant_rows_add_up_to_their_agent(synthetic_home: Home) -> None:
    mismatched = query(
        synthetic_home,
        """
        select agents.window_end_at, agents.dimension_value
        from fct_windows_60m as agents
        left join (
            select window_end_at, agent_name, sum(run_count) as run_count,
                sum(llm_call_count) as llm_call_count
            from fct_windows_60m
            where dimension = 'prompt_variant'
            group by all
        ) as variants
            on agents.window_end_at = variants.window_end_at
            and agents.dimension_value = variants.agent_name
        where agents.dimension = 'agent_name'
            and (agents.agent_name != agents.dimension_value
                or agents.run_count != coalesce(variants.run_count, 0)
                or agents.llm_call_count != coalesce(variants.llm_call_count, 0))
        """,
    )
    assert mismatched == []
    pooled = query(
        synthetic_home,
        "select count(*) from fct_windows_60m "
        "where dimension not in ('agent_name', 'prompt_variant') and agent_name is not null",
    )
    assert pooled == [(0,)]
