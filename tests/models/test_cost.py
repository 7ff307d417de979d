"""Cost: price table matching, token semantics, reported cost, unpriced models, user prices."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetsignals.cli import cli
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with, span, trace_id, write_spans
from tests.fixtures.warehouses import query


def llm(trace: str, name: str, at: datetime, model: str, provider: str = "", **tokens) -> dict:
    return span(trace, name, at, 1.0, parent="root", operation="llm", model=model,
                provider=provider or None, **tokens)  # fmt: skip


def run(trace: str, at: datetime, *calls: dict) -> list[dict]:
    return [span(trace, "root", at, 60, operation="agent"), *calls]


def cost_of(home: Home, trace: str) -> list[tuple]:
    return query(
        home,
        "select name_or_model, cost_usd, cost_source, is_priced from ("
        " select coalesce(model, span_name) as name_or_model, cost_usd, cost_source, is_priced, started_at"
        " from fct_llm_calls where run_id = ?) order by started_at",
        [trace_id(trace)],
    )


@pytest.fixture(scope="module")
def priced_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("cost")
    home = Home(root / "home").ensure()
    day = datetime(2025, 11, 3, 10)
    rows = [
        # gpt-4o: $2.50 in, $10 out, $1.25 cached read per 1M. 600 uncached + 400 cached.
        *run("cached", day,
             llm("cached", "a", day + timedelta(seconds=1), "gpt-4o-2024-08-06", "openai",
                 input_tokens=1000, cache_read_tokens=400, output_tokens=100)),
        # Anthropic via OTel: input includes cache reads and writes.
        *run("anthropic", day,
             llm("anthropic", "a", day + timedelta(seconds=1), "claude-sonnet-4-5-20250929", "anthropic",
                 input_tokens=1000, cache_read_tokens=300, cache_write_tokens=200, output_tokens=10)),
        # A cost on the span wins, even for an unknown model.
        *run("reported", day,
             llm("reported", "a", day + timedelta(seconds=1), "mystery-model", cost_usd=0.5,
                 input_tokens=10, output_tokens=10)),
        # Unknown model, no cost: null cost, flagged; the run's cost is null too.
        *run("unpriced", day,
             llm("unpriced", "a", day + timedelta(seconds=1), "mystery-model", input_tokens=10),
             llm("unpriced", "b", day + timedelta(seconds=2), "gpt-4o-mini", "openai", input_tokens=10)),
        # o3's price fell on 2025-06-10: the price in effect on the call's day applies.
        *run("o3-may", datetime(2025, 5, 1),
             llm("o3-may", "a", datetime(2025, 5, 1, 0, 0, 1), "o3", "openai",
                 input_tokens=1_000_000, output_tokens=1_000_000)),
        # Llama 4 Scout costs differently on Groq and Together: the provider picks the host.
        *run("groq", day,
             llm("groq", "a", day + timedelta(seconds=1), "meta-llama/llama-4-scout-17b-16e-instruct",
                 "groq", input_tokens=1_000_000)),
        *run("together", day,
             llm("together", "a", day + timedelta(seconds=1), "meta-llama/Llama-4-Scout-17B-16E-Instruct",
                 "together_ai", input_tokens=1_000_000)),
        # A priced model but no token usage and no cost: unknown, not free.
        *run("notokens", day,
             llm("notokens", "a", day + timedelta(seconds=1), "gpt-4o", "openai"),
             llm("notokens", "b", day + timedelta(seconds=2), "gpt-4o", "openai",
                 input_tokens=100, output_tokens=10)),
        # A failed request without usage was not billed: 0, known.
        *run("failed", day,
             llm("failed", "a", day + timedelta(seconds=1), "gpt-4o", "openai",
                 status_code="error"),
             llm("failed", "b", day + timedelta(seconds=2), "gpt-4o", "openai",
                 input_tokens=100, output_tokens=10)),
        # Two instrumentations of one call (a framework's LLM span around the client's,
        # through an HTTP span): the innermost counts, once.
        *run("nested", day,
             llm("nested", "framework", day + timedelta(seconds=1), "gpt-4o", "openai",
                 input_tokens=100, output_tokens=10),
             span("nested", "http", day + timedelta(seconds=1), 1.0, parent="framework"),
             span("nested", "client", day + timedelta(seconds=1), 1.0, parent="http",
                  operation="llm", model="gpt-4o-2024-08-06", provider="openai",
                  input_tokens=100, output_tokens=10)),
        # Tokens on an agent span repeat its children's: not counted.
        span("agentusage", "root", day, 60, operation="agent", input_tokens=999, output_tokens=999),
        llm("agentusage", "a", day + timedelta(seconds=1), "gpt-4o", "openai", input_tokens=100, output_tokens=10),
    ]  # fmt: skip
    write_spans(home, rows, "cost")
    build(home, config_with(root), full_refresh=True)
    return home


def test_cached_tokens_are_not_charged_twice(priced_home: Home) -> None:
    ((_, cost, source, priced),) = cost_of(priced_home, "cached")
    assert cost == pytest.approx((600 * 2.50 + 400 * 1.25 + 100 * 10.0) / 1e6)
    assert (source, priced) == ("price_table", True)


def test_cache_writes_at_their_price(priced_home: Home) -> None:
    ((_, cost, _, _),) = cost_of(priced_home, "anthropic")
    assert cost == pytest.approx((500 * 3.0 + 300 * 0.30 + 200 * 3.75 + 10 * 15.0) / 1e6)


def test_reported_cost_wins(priced_home: Home) -> None:
    assert cost_of(priced_home, "reported") == [("mystery-model", 0.5, "reported", True)]


def test_unpriced_is_null_and_surfaced(priced_home: Home) -> None:
    rows = cost_of(priced_home, "unpriced")
    assert rows[0] == ("mystery-model", None, None, False)
    assert rows[1][1] is not None
    cost, priced, unpriced = query(
        priced_home,
        "select cost_usd, priced_cost_usd, unpriced_call_count from fct_runs where run_id = ?",
        [trace_id("unpriced")],
    )[0]
    assert cost is None and priced > 0 and unpriced == 1
    assert query(priced_home, "select model, call_count from dim_unpriced_models") == [
        ("mystery-model", 1)
    ]


def test_no_token_usage_is_unknown_cost_not_free(priced_home: Home) -> None:
    rows = cost_of(priced_home, "notokens")
    assert rows[0] == ("gpt-4o", None, None, False)
    assert rows[1][1:] == (pytest.approx((100 * 2.50 + 10 * 10.0) / 1e6), "price_table", True)
    cost, priced, unpriced = query(
        priced_home,
        "select cost_usd, priced_cost_usd, unpriced_call_count from fct_runs where run_id = ?",
        [trace_id("notokens")],
    )[0]
    assert cost is None and priced == pytest.approx(350 / 1e6) and unpriced == 1
    # gpt-4o has a price: it is not listed as a model without one.
    assert ("gpt-4o",) not in query(priced_home, "select model from dim_unpriced_models")


def test_a_failed_call_without_usage_costs_nothing(priced_home: Home) -> None:
    rows = cost_of(priced_home, "failed")
    assert rows[0] == ("gpt-4o", 0.0, "price_table", True)
    cost, unpriced = query(
        priced_home,
        "select cost_usd, unpriced_call_count from fct_runs where run_id = ?",
        [trace_id("failed")],
    )[0]
    assert cost == pytest.approx(350 / 1e6) and unpriced == 0


def test_nested_llm_spans_count_the_innermost_once(priced_home: Home) -> None:
    assert cost_of(priced_home, "nested") == [
        ("gpt-4o-2024-08-06", pytest.approx(350 / 1e6), "price_table", True)
    ]
    row = query(
        priced_home,
        "select llm_call_count, input_tokens, output_tokens, cost_usd from fct_runs"
        " where run_id = ?",
        [trace_id("nested")],
    )
    assert row == [(1, 100, 10, pytest.approx(350 / 1e6))]


def test_price_in_effect_on_the_call_day(priced_home: Home) -> None:
    ((_, cost, _, _),) = cost_of(priced_home, "o3-may")
    assert cost == pytest.approx(10.0 + 40.0)


def test_host_named_by_the_provider_wins(priced_home: Home) -> None:
    assert cost_of(priced_home, "groq")[0][1] == pytest.approx(0.11)
    assert cost_of(priced_home, "together")[0][1] == pytest.approx(0.18)


def test_tokens_summed_over_llm_calls_only(priced_home: Home) -> None:
    row = query(
        priced_home,
        "select input_tokens, output_tokens, llm_call_count from fct_runs where run_id = ?",
        [trace_id("agentusage")],
    )
    assert row == [(100, 10, 1)]


def test_user_prices_take_priority_and_price_unknown_models(
    priced_home: Home, tmp_path: Path
) -> None:
    import shutil

    home = Home(tmp_path / "home")
    shutil.copytree(priced_home.root, home.root)
    (home.root / "prices").mkdir()
    (home.root / "prices" / "ours.csv").write_text(
        "provider,model_pattern,host,valid_from,input_usd_per_mtok,output_usd_per_mtok,"
        "cache_read_usd_per_mtok,cache_write_usd_per_mtok,source_url\n"
        "acme,mystery-model,,2020-01-01,1000,0,,,https://example.com\n"
        "openai,(.*/)?gpt-4o(-\\d{4}-\\d{2}-\\d{2})?,openai,2020-01-01,1,1,1,,\n",
        encoding="utf-8",
    )
    summary = build(home, config_with(tmp_path), full_refresh=True, run_tests=False)
    assert summary.unpriced_models == 0 and summary.warnings == []
    assert cost_of(home, "unpriced")[0][1] == pytest.approx(10 * 1000 / 1e6)
    assert cost_of(home, "cached")[0][1] == pytest.approx(1100 / 1e6)
    assert cost_of(home, "reported")[0][1] == 0.5  # a reported cost still wins


def test_build_warns_about_unpriced_models(priced_home: Home, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(priced_home.root), "build"])
    assert result.exit_code == 0, result.output
    assert "warning: 1 model(s) have no price" in result.stderr
    assert "mystery-model" in result.stderr
    assert "1 unpriced models" in result.stdout


def test_a_broken_user_price_file_fails_the_build_in_one_line(
    tmp_path: Path, priced_home: Home
) -> None:
    import shutil

    home = Home(tmp_path / "home")
    shutil.copytree(priced_home.root, home.root)
    (home.root / "prices").mkdir()
    (home.root / "prices" / "bad.csv").write_text(
        "provider,model_pattern,host,valid_from,input_usd_per_mtok,output_usd_per_mtok,"
        "cache_read_usd_per_mtok,cache_write_usd_per_mtok,source_url\n"
        "acme,x,,not-a-date,1,1,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(FleetsignalsError) as caught:
        build(home, config_with(tmp_path))
    message = str(caught.value)
    assert message.startswith("build failed:") and "\n" not in message
    assert "not-a-date" in message and "valid_from" in message, message


def test_report_counts_runs_of_unknown_cost(priced_home: Home) -> None:
    from fleetsignals.report.overview import query_totals
    from fleetsignals.report.sections import unknown_cost_text
    from fleetsignals.report.window import Window
    from fleetsignals.snapshot import connect_snapshot

    window = Window(datetime(2025, 11, 3, 10), datetime(2025, 11, 3, 11))
    with connect_snapshot(priced_home) as con:
        totals = query_totals(con, window)
    # "unpriced" (an unknown model) and "notokens" (no usage), one unpriced call each.
    assert (totals["unpriced_runs"], totals["unpriced_calls"]) == (2, 2)
    text = unknown_cost_text(totals)
    assert text.startswith("2 runs have an unknown cost: 2 of their LLM calls")
    assert "mystery-model" in text and "no token usage" in text
