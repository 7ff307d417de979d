"""Sequential drift windows and per-run anomaly scores over per-run behavioural vectors.

Every ``step`` (5 min) a window ends at W. For each agent_name x prompt_variant
the runs that ended in (W - window, W] are compared with the baseline: runs
that ended in (W - baseline, W - window], minus the runs of any earlier
window of the same pair that was in alert. Windows are computed in time order
and each exactly once, so a window's alert shapes the baselines of the
windows after it: an incident never becomes the new normal, and the return to
normal after it is compared with the normal before it.

Times are integer microseconds since the Unix epoch (naive UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from fleetsignals.fingerprints.features import MAX_TOOLS, tool_columns
from fleetsignals.fingerprints.stats import Whitener, hotelling, ratio_hotelling

US = 1_000_000
_EPOCH = datetime(1970, 1, 1)


def to_us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(value))


@dataclass(frozen=True)
class Settings:
    """How windows are compared; the defaults are what docs/fingerprints.md measures."""

    # Current windows, trailing. Several are tested at each window end with Bonferroni (a
    # short one sees a short incident undiluted), but windows shorter than an hour hold too
    # few runs for a calibrated T² tail at ordinary traffic (measured: docs/fingerprints.md).
    windows: tuple[timedelta, ...] = (timedelta(minutes=60),)
    baseline: timedelta = timedelta(hours=24)  # baseline reaches this far back from W
    step: timedelta = timedelta(minutes=5)  # a window ends every step (on the clock grid)
    min_current_runs: int = 30
    min_baseline_runs: int = 200
    max_baseline_runs: int = 5000  # evenly spaced in time beyond this: cost stays bounded
    alpha: float = 0.001  # per-window significance (measured: ~1 % of healthy pair-hours)
    min_distance: float = 0.2  # smallest shift worth an alert, in per-run SDs
    # Each feature is clipped to the baseline mean +- clip_sd baseline SDs before the test,
    # so a few extreme runs (a burst of tool errors in thin traffic) cannot carry a window
    # alone: with it the F tail is calibrated at 30 runs (docs/fingerprints.md).
    clip_sd: float = 3.0
    anomaly_quantile: float = 0.995  # a run beyond this quantile of its baseline is anomalous
    max_tools: int = MAX_TOOLS
    # Test the tool mix and the behaviour scalars separately (two T² tests on per-run
    # vectors, Bonferroni over both): a tool-mix shift is not diluted by the scalars'
    # dimensions. Used only with tool_mix_on_calls off (measured: docs/fingerprints.md).
    split_tests: bool = False
    # Test the tool mix on tool-call counts (ratio estimate of each tool's share of all calls
    # in the window, per-run cluster-robust variance: stats.ratio_hotelling) and the behaviour
    # scalars by T², Bonferroni over both. Uses every call of a thin hour without treating the
    # calls of one run as independent. Off: one joint T² on per-run tool shares and scalars
    # (measured: docs/fingerprints.md).
    tool_mix_on_calls: bool = True

    @property
    def window(self) -> timedelta:
        """The longest current window: baselines end where it starts."""
        return max(self.windows)

    @property
    def window_us(self) -> int:
        return int(self.window.total_seconds() * US)

    @property
    def baseline_us(self) -> int:
        return int(self.baseline.total_seconds() * US)

    @property
    def step_us(self) -> int:
        return int(self.step.total_seconds() * US)


@dataclass
class PairRuns:
    """The completed runs of one agent_name x prompt_variant, sorted by end time."""

    agent_name: str
    prompt_variant: str
    run_ids: np.ndarray  # object (str)
    ended_us: np.ndarray  # int64, ascending
    scalars: np.ndarray  # runs x scalar features (transformed)
    shares: np.ndarray  # runs x tools of this pair
    alert_ends: list[int] = field(default_factory=list)  # ends of windows in alert, ascending
    tool_calls: np.ndarray | None = None  # tool calls per run (shares x this = call counts)

    @property
    def key(self) -> tuple[str, str]:
        return (self.agent_name, self.prompt_variant)


@dataclass(frozen=True)
class WindowResult:
    window_end_us: int
    agent_name: str
    prompt_variant: str
    window_minutes: float  # the current window the result is from
    n_current: int
    n_baseline: int
    distance: float | None
    statistic: float | None
    p_value: float | None
    dimensions: int
    is_alert: bool


@dataclass(frozen=True)
class RunScore:
    run_id: str
    agent_name: str
    prompt_variant: str
    ended_us: int
    scored_at_us: int  # end of the window the run ended in (its baseline is that window's)
    anomaly_score: float | None  # None: the baseline was too small to score against
    anomaly_threshold: float | None
    is_anomalous: bool


def window_grid(first_us: int, last_us: int, settings: Settings) -> list[int]:
    """Window ends on the step grid (multiples of ``step`` since the epoch) in [first, last]."""
    step = settings.step_us
    start = -(-first_us // step) * step
    return list(range(start, last_us + 1, step)) if last_us >= start else []


def window_of(ended_us: np.ndarray, settings: Settings) -> np.ndarray:
    """End of the window (on the grid) a run that ended at ``ended_us`` is scored in."""
    step = settings.step_us
    return -(-np.asarray(ended_us, dtype=np.int64) // step) * step


def baseline_rows(pair: PairRuns, end_us: int, settings: Settings) -> np.ndarray:
    """Indices of the baseline runs for the window ending at ``end_us``."""
    lo = np.searchsorted(pair.ended_us, end_us - settings.baseline_us, side="right")
    hi = np.searchsorted(pair.ended_us, end_us - settings.window_us, side="right")
    rows = np.arange(lo, hi)
    if pair.alert_ends and len(rows):
        # A run is excluded when it lay in the current window of an alerting window A:
        # A - window < ended <= A. The first alert end >= ended is the only candidate.
        alerts = np.asarray(pair.alert_ends, dtype=np.int64)
        t = pair.ended_us[rows]
        j = np.searchsorted(alerts, t, side="left")
        inside = j < len(alerts)
        excluded = np.zeros(len(rows), dtype=bool)
        excluded[inside] = alerts[j[inside]] - settings.window_us < t[inside]
        rows = rows[~excluded]
    if len(rows) > settings.max_baseline_runs:
        rows = rows[np.linspace(0, len(rows) - 1, settings.max_baseline_runs).round().astype(int)]
    return rows


def current_rows(
    pair: PairRuns, end_us: int, settings: Settings, window: timedelta | None = None
) -> np.ndarray:
    length = int((window or settings.window).total_seconds() * US)
    lo = np.searchsorted(pair.ended_us, end_us - length, side="right")
    hi = np.searchsorted(pair.ended_us, end_us, side="right")
    return np.arange(lo, hi)


def vectors(pair: PairRuns, rows: np.ndarray, settings: Settings) -> np.ndarray:
    """Per-run vectors of ``rows``: tool shares over their vocabulary, then the scalars."""
    return np.column_stack(
        [tool_columns(pair.shares, rows, settings.max_tools), pair.scalars[rows]]
    )


def winsorize(
    baseline: np.ndarray, current: np.ndarray, clip_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Clip both samples' features to the baseline mean +- clip_sd baseline SDs (the same
    bounds for both, so identical distributions stay identical)."""
    if not clip_sd:
        return baseline, current
    center, spread = baseline.mean(axis=0), baseline.std(axis=0)
    lo, hi = center - clip_sd * spread, center + clip_sd * spread
    return np.clip(baseline, lo, hi), np.clip(current, lo, hi)


def call_counts(pair: PairRuns, rows: np.ndarray, settings: Settings) -> np.ndarray:
    """Tool-call counts of ``rows`` (runs x tools) over the vocabulary those runs use."""
    if pair.tool_calls is None:
        raise ValueError("tool_mix_on_calls needs the runs' tool-call counts (PairRuns.tool_calls)")
    counts = pair.shares[rows] * pair.tool_calls[rows, None]
    return tool_columns(counts, np.arange(len(rows)), settings.max_tools)


def clip_calls(
    baseline: np.ndarray, current: np.ndarray, clip_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Scale down the counts of runs with more calls than the baseline mean + clip_sd SDs to
    that many calls (their mix kept), in both samples alike, so a few huge runs cannot carry
    a window's ratio alone and identical distributions stay identical."""
    if not clip_sd:
        return baseline, current
    calls = baseline.sum(axis=1)
    cap = calls.mean() + clip_sd * calls.std()

    def clip(x: np.ndarray) -> np.ndarray:
        n = x.sum(axis=1)
        factor = np.where(n > cap, cap / np.maximum(n, 1e-12), 1.0)
        return x * factor[:, None]

    return clip(baseline), clip(current)


def call_tests(
    pair: PairRuns,
    base: np.ndarray,
    cur: np.ndarray,
    xb: np.ndarray,
    xc: np.ndarray,
    settings: Settings,
) -> list:
    """The tool mix on call counts and the scalars by T² (``xb``, ``xc``: winsorized vectors,
    tool-share columns first)."""
    counts = call_counts(pair, np.concatenate([base, cur]), settings)
    cb, cc = clip_calls(counts[: len(base)], counts[len(base) :], settings.clip_sd)
    scalars = pair.scalars.shape[1]
    out = [ratio_hotelling(cb, cc)] if counts.shape[1] else []
    if scalars:
        out.append(hotelling(xb[:, -scalars:], xc[:, -scalars:]))
    return out


def compare_window(pair: PairRuns, end_us: int, settings: Settings) -> WindowResult:
    """One pair, one window end: a test per current window (two with ``tool_mix_on_calls`` or
    ``split_tests``: tool mix and scalars), Bonferroni over those tested.

    Alert when some current window has p * (windows tested) < alpha and a distance of at
    least min_distance; the result reports that window (the smallest p among alerting
    ones, else among all), with its p-value adjusted.
    """
    base = baseline_rows(pair, end_us, settings)
    results = []
    for window in sorted(settings.windows):
        cur = current_rows(pair, end_us, settings, window)
        if len(cur) < settings.min_current_runs or len(base) < settings.min_baseline_runs:
            continue
        x = vectors(pair, np.concatenate([base, cur]), settings)
        xb, xc = winsorize(x[: len(base)], x[len(base) :], settings.clip_sd)
        if settings.tool_mix_on_calls:
            results += [(window, r) for r in call_tests(pair, base, cur, xb, xc, settings)]
        elif settings.split_tests:
            tools = x.shape[1] - pair.scalars.shape[1]  # tool columns come first
            parts = [slice(0, tools), slice(tools, None)] if tools else [slice(None)]
            results += [(window, hotelling(xb[:, part], xc[:, part])) for part in parts]
        else:
            results.append((window, hotelling(xb, xc)))
    if not results:
        n = len(current_rows(pair, end_us, settings))
        minutes = settings.window.total_seconds() / 60
        return WindowResult(end_us, *pair.key, minutes, n, len(base), None, None, None, 0, False)
    k = len(results)
    alerting = [
        (w, r) for w, r in results
        if r.p_value * k < settings.alpha and r.distance >= settings.min_distance
    ]  # fmt: skip
    window, best = min(alerting or results, key=lambda wr: wr[1].p_value)
    return WindowResult(
        end_us, *pair.key, window.total_seconds() / 60, best.n_current, best.n_baseline,
        best.distance, best.statistic, min(1.0, best.p_value * k), best.dimensions,
        bool(alerting),
    )  # fmt: skip


def evaluate_windows(
    pairs: Sequence[PairRuns], window_ends: Iterable[int], settings: Settings
) -> list[WindowResult]:
    """Compute windows in time order; an alert joins its pair's ``alert_ends`` at once."""
    results = []
    for end_us in sorted(window_ends):
        for pair in pairs:
            result = compare_window(pair, end_us, settings)
            if result.is_alert:
                pair.alert_ends.append(end_us)
            results.append(result)
    return results


def score_runs(
    pair: PairRuns, rows: np.ndarray, settings: Settings, *, keep_unscored: bool = False
) -> list[RunScore]:
    """Anomaly scores of ``rows`` (runs of one pair), each against its own window's baseline.

    The score is the run's Mahalanobis distance from the baseline's mean under
    the baseline's covariance; the threshold is the ``anomaly_quantile`` of the
    baseline runs' own scores, so about 0.5 % of healthy runs are flagged in
    any fleet, whatever its features' scales. No baseline, no score (with
    ``keep_unscored``, such runs are returned with a null score, not anomalous).
    """
    scores: list[RunScore] = []
    ends = window_of(pair.ended_us[rows], settings)
    for end_us in np.unique(ends):
        mine = rows[ends == end_us]
        base = baseline_rows(pair, int(end_us), settings)
        if len(base) < settings.min_baseline_runs:
            if keep_unscored:
                scores += [
                    RunScore(
                        str(pair.run_ids[i]),
                        *pair.key,
                        int(pair.ended_us[i]),
                        int(end_us),
                        None,
                        None,
                        False,
                    )  # fmt: skip
                    for i in mine
                ]
            continue
        x = vectors(pair, np.concatenate([base, mine]), settings)
        xb, xr = x[: len(base)], x[len(base) :]
        whitener = Whitener.fit(
            xb.mean(axis=0), np.cov(xb, rowvar=False, ddof=1), keep_degenerate=True
        )
        threshold = float(
            np.sqrt(np.quantile(whitener.squared_distances(xb), settings.anomaly_quantile))
        )
        distances = np.sqrt(whitener.squared_distances(xr))
        for i, d in zip(mine, distances, strict=True):
            scores.append(
                RunScore(
                    str(pair.run_ids[i]),
                    *pair.key,
                    int(pair.ended_us[i]),
                    int(end_us),
                    float(d),
                    threshold,
                    bool(d > threshold),
                )  # fmt: skip
            )
    return scores
