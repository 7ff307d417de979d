"""`fleetsignals sql` right after `ingest`, before any build: `spans` over the landed lake,
in the same sandbox (reads only the lake, one select, time-limited)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from fleetsignals.cli import cli
from fleetsignals.home import Home

DATA = Path(__file__).resolve().parents[1] / "data" / "dialects"


def sql(home: Home, query: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home.root), "sql", query, *args])


@pytest.fixture
def landed(home: Home) -> Home:
    result = CliRunner().invoke(
        cli, ["--home", str(home.root), "ingest", str(DATA / "otel_genai.jsonl")]
    )
    assert result.exit_code == 0, result.output
    return home


def test_spans_are_queryable_right_after_ingest(landed: Home) -> None:
    result = sql(
        landed,
        "select operation, count(*) as n, sum(input_tokens) as tokens from spans"
        " group by operation order by operation",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "operation,n,tokens",
        "agent,1,3300",
        "llm,2,3300",
        "tool,1,",
    ]
    assert "no build yet" in result.stderr


def test_the_built_name_of_the_reported_cost_and_the_dimensions(landed: Home) -> None:
    result = sql(
        landed,
        "select agent_name, tenant_id, reported_cost_usd from spans where operation = 'agent'",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "travel-planner,acme,"


def test_other_tables_say_to_build(landed: Home) -> None:
    result = sql(landed, "select count(*) from fct_runs")
    assert result.exit_code != 0
    assert "fct_runs" in str(result.exception)


@pytest.mark.parametrize(
    "query",
    [
        "select * from read_parquet('{outside}')",
        "select * from read_text('{home}/lake/manifest.jsonl')",
        "select * from read_csv('/etc/passwd')",
        "select * from glob('{home}/**')",
    ],
)
def test_it_reads_nothing_but_the_lake(landed: Home, tmp_path: Path, query: str) -> None:
    outside = tmp_path / "secret.parquet"
    pq.write_table(pa.table({"secret": ["s3cr3t"]}), outside)
    result = sql(landed, query.format(outside=outside, home=landed.root))
    assert result.exit_code != 0
    assert "Permission Error" in str(result.exception), result.exception
    assert "s3cr3t" not in result.output and "root:" not in result.output


def test_writes_are_refused_before_a_build_too(landed: Home) -> None:
    result = sql(landed, f"copy (select * from spans) to '{landed.lake}/x.parquet'")
    assert result.exit_code != 0
    assert "refused" in str(result.exception)
    assert not (landed.lake / "x.parquet").exists()


def test_an_empty_home_says_to_ingest(home: Home) -> None:
    result = sql(home, "select 1")
    assert result.exit_code != 0
    message = str(result.exception)
    assert "fleetsignals ingest" in message and "fleetsignals build" in message
