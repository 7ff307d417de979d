"""The warehouse's price rules, applied in Python so the ground truth costs what
``fct_runs.cost_usd`` says a run costs.

The prices are the shipped seed ``seeds/model_prices.csv`` (one definition); the
rules mirror ``models/intermediate/int_llm_calls_priced.sql``: the row whose regex
fully matches the lower-cased model and that was in effect on the call's UTC day,
the host named by the call's provider first, then the latest ``valid_from``, then
the longest pattern. Input tokens include cached ones: the uncached part is charged
at the input price, cache reads and writes at theirs (the input price when blank).
User price files (``HOME/prices``) are not read: the generator has no home.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from fleetsignals.resources import project_dir

SEED = project_dir() / "seeds" / "model_prices.csv"
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Price:
    pattern: re.Pattern[str]
    pattern_length: int
    host: str
    valid_from: date
    input: float
    output: float
    cache_read: float | None
    cache_write: float | None


def _usd(text: str) -> float | None:
    return float(text) if text.strip() else None


@cache
def price_rows(path: Path = SEED) -> tuple[Price, ...]:
    with path.open(newline="") as f:
        return tuple(
            Price(
                re.compile(row["model_pattern"].strip().lower()),
                len(row["model_pattern"].strip()),
                (row["host"] or row["provider"]).strip().lower(),
                date.fromisoformat(row["valid_from"]) if row["valid_from"] else date(1970, 1, 1),
                _usd(row["input_usd_per_mtok"]) or 0.0,
                _usd(row["output_usd_per_mtok"]) or 0.0,
                _usd(row["cache_read_usd_per_mtok"]),
                _usd(row["cache_write_usd_per_mtok"]),
            )
            for row in csv.DictReader(f)
        )


@cache
def best_price(model: str, provider: str, day: date) -> Price | None:
    """The price row the warehouse picks for MODEL called through PROVIDER on DAY."""
    key, provider_key = model.strip().lower(), provider.lower()
    rows = [p for p in price_rows() if p.valid_from <= day and p.pattern.fullmatch(key)]
    if not rows:
        return None
    return min(
        rows,
        key=lambda p: (p.host not in provider_key, -p.valid_from.toordinal(),
                       -p.pattern_length, p.host),
    )  # fmt: skip


def call_cost(
    model: str | None,
    provider: str | None,
    start_ns: int,
    tokens: tuple[int, int, int, int],
) -> float | None:
    """USD of one LLM call (input, output, cache read, cache write tokens); None if unpriced."""
    if model is None:
        return None
    price = best_price(
        model, provider or "", (EPOCH + timedelta(microseconds=start_ns // 1000)).date()
    )
    if price is None:
        return None
    tokens_in, tokens_out, cache_read, cache_write = tokens
    uncached = max(tokens_in - cache_read - cache_write, 0)
    read = price.input if price.cache_read is None else price.cache_read
    write = price.input if price.cache_write is None else price.cache_write
    usd = (
        uncached * price.input + tokens_out * price.output + cache_read * read + cache_write * write
    )
    return usd / 1_000_000.0
