"""The drift engine on per-run vectors: calibration, power, exclusions, incremental = at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from scipy import stats

from fleetsignals.fingerprints.drift import (
    PairRuns,
    Settings,
    baseline_rows,
    compare_window,
    evaluate_windows,
    score_runs,
    window_grid,
)
from fleetsignals.fingerprints.stats import design_correlation, hotelling, ratio_hotelling
from fleetsignals.fingerprints.warehouse import settings_from

HOUR = 3_600_000_000
SETTINGS = Settings()


def runs(rng: np.random.Generator, n: int, mix: list[float], steps: float = 2.0) -> tuple:
    """Per-run shares over 3 tools (from a few calls each) and two scalar features."""
    shares, scalars, _ = runs_with_calls(rng, n, mix, steps)
    return shares, scalars


def runs_with_calls(
    rng: np.random.Generator, n: int, mix: list[float], steps: float = 2.0
) -> tuple:
    """As ``runs``, with each run's number of tool calls."""
    calls = rng.integers(1, 6, n)
    shares = np.array([rng.multinomial(c, mix) / c for c in calls])
    scalars = np.column_stack([rng.normal(steps, 0.5, n), rng.normal(0.3, 0.1, n)])
    return shares, scalars, calls.astype(float)


def pair(
    rng: np.random.Generator, hours: float, per_hour: int, drift: tuple[float, float] | None = None
) -> PairRuns:
    """Runs ending uniformly over ``hours``; those ending in ``drift`` (hours) use another mix."""
    n = int(hours * per_hour)
    ended = np.sort(rng.integers(0, int(hours * HOUR), n)).astype(np.int64)
    shares, scalars, calls = runs_with_calls(rng, n, [0.5, 0.3, 0.2])
    if drift is not None:
        inside = (ended > drift[0] * HOUR) & (ended <= drift[1] * HOUR)
        s2, x2, c2 = runs_with_calls(rng, int(inside.sum()), [0.25, 0.3, 0.45])
        shares[inside], scalars[inside], calls[inside] = s2, x2, c2
    ids = np.array([f"r{i}" for i in range(n)], dtype=object)
    return PairRuns("agent", "v1", ids, ended, scalars, shares, tool_calls=calls)


def test_hotelling_is_calibrated_on_aa_splits() -> None:
    rng = np.random.default_rng(1)
    p = []
    for _ in range(400):
        s, x = runs(rng, 260, [0.5, 0.3, 0.2])
        v = np.column_stack([s, x])
        p.append(hotelling(v[:200], v[200:]).p_value)
    p = np.array(p)
    assert 0.025 <= np.mean(p < 0.05) <= 0.08
    assert np.mean(p < 0.01) <= 0.025


def test_distance_is_about_zero_without_a_shift_and_grows_with_it() -> None:
    rng = np.random.default_rng(2)
    s, x = runs(rng, 3000, [0.5, 0.3, 0.2])
    same = hotelling(np.column_stack([s[:2000], x[:2000]]), np.column_stack([s[2000:], x[2000:]]))
    s2, x2 = runs(rng, 1000, [0.3, 0.3, 0.4])
    moved = hotelling(np.column_stack([s[:2000], x[:2000]]), np.column_stack([s2, x2]))
    assert same.distance < 0.1 and same.p_value > 0.001
    assert moved.distance > 0.5 and moved.p_value < 1e-9


def test_a_drift_alerts_and_the_return_to_normal_does_not() -> None:
    p = pair(np.random.default_rng(3), 12, 200, drift=(6, 7))
    ends = window_grid(2 * HOUR, 12 * HOUR, SETTINGS)
    results = evaluate_windows([p], ends, SETTINGS)
    alerts = [r.window_end_us / HOUR for r in results if r.is_alert]
    assert alerts and 6 < alerts[0] <= 6.5  # within half an hour of the start
    assert all(a <= 8 for a in alerts)  # nothing once the current window is normal again
    assert not any(r.is_alert for r in results if r.window_end_us <= 6 * HOUR)


def test_runs_of_alerting_windows_never_enter_later_baselines() -> None:
    p = pair(np.random.default_rng(4), 12, 200, drift=(6, 7))
    evaluate_windows([p], window_grid(2 * HOUR, 10 * HOUR, SETTINGS), SETTINGS)
    base = baseline_rows(p, 10 * HOUR, SETTINGS)
    drifted = (p.ended_us > 6 * HOUR + HOUR // 4) & (p.ended_us <= 7 * HOUR)
    assert not np.isin(np.flatnonzero(drifted), base).any()
    # Without the exclusion the drifted hour would be part of the baseline.
    p.alert_ends = []
    assert np.isin(np.flatnonzero(drifted), baseline_rows(p, 10 * HOUR, SETTINGS)).all()


def test_computing_windows_in_two_builds_equals_one() -> None:
    ends = window_grid(2 * HOUR, 12 * HOUR, SETTINGS)
    once = evaluate_windows([pair(np.random.default_rng(5), 12, 150, (6, 7))], ends, SETTINGS)
    split = pair(np.random.default_rng(5), 12, 150, (6, 7))
    twice = evaluate_windows([split], ends[:40], SETTINGS) + evaluate_windows(
        [split], ends[40:], SETTINGS
    )
    assert once == twice


def test_a_window_only_sees_runs_that_ended_by_its_end() -> None:
    full = pair(np.random.default_rng(6), 12, 150, (6, 7))
    cut = 6 * HOUR + HOUR // 2
    keep = full.ended_us <= cut
    early = PairRuns("agent", "v1", full.run_ids[keep], full.ended_us[keep],
                     full.scalars[keep], full.shares[keep],
                     tool_calls=full.tool_calls[keep])  # fmt: skip
    assert compare_window(full, cut, SETTINGS) == compare_window(early, cut, SETTINGS)


def test_thin_traffic_abstains() -> None:
    p = pair(np.random.default_rng(7), 12, 20, drift=(6, 12))
    results = evaluate_windows([p], window_grid(2 * HOUR, 12 * HOUR, SETTINGS), SETTINGS)
    assert all(r.p_value is None and not r.is_alert for r in results)


def test_anomaly_scores_flag_about_the_chosen_share_and_unseen_tools() -> None:
    rng = np.random.default_rng(8)
    p = pair(rng, 30, 200)
    rows = np.flatnonzero(p.ended_us > 26 * HOUR)
    scores = score_runs(p, rows, SETTINGS)
    rate = np.mean([s.is_anomalous for s in scores])
    assert len(scores) == len(rows) and 0.0 <= rate <= 0.02
    # A run that calls a tool its baseline never used is far from it.
    odd = replace(p, shares=np.column_stack([p.shares, np.zeros(len(p.run_ids))]))
    odd.shares[rows[0]] = [0.0, 0.0, 0.5, 0.5]
    first = score_runs(odd, rows[:1], SETTINGS)[0]
    assert first.is_anomalous and first.anomaly_score > 5 * first.anomaly_threshold


def test_runs_without_enough_baseline_get_no_score() -> None:
    p = pair(np.random.default_rng(9), 2, 50)
    scores = score_runs(p, np.arange(5), SETTINGS, keep_unscored=True)
    assert all(s.anomaly_score is None and not s.is_anomalous for s in scores)
    assert score_runs(p, np.arange(5), SETTINGS) == []


def test_settings_come_from_the_model_meta() -> None:
    s = settings_from({"fingerprint": {"windows_minutes": [30, 60], "alpha": 0.01}})
    assert s.windows == (timedelta(minutes=30), timedelta(minutes=60)) and s.alpha == 0.01
    assert settings_from(None) == Settings()
    with pytest.raises(ValueError, match="unknown setting 'alpah'"):
        settings_from({"fingerprint": {"alpah": 0.01}})


def test_split_tests_are_calibrated_and_see_a_tool_mix_shift_past_many_scalars() -> None:
    """With the scalars tested apart, a tool-mix shift is not diluted by their dimensions;
    on healthy pairs the two tests together stay within alpha (Bonferroni over both)."""
    rng = np.random.default_rng(10)
    shares = replace(SETTINGS, tool_mix_on_calls=False)  # the tests on per-run vectors
    split = replace(shares, split_tests=True, alpha=0.05)
    joint = replace(shares, alpha=0.05)

    def with_noise(p: PairRuns) -> PairRuns:  # eight more behaviour scalars, pure noise
        noise = rng.normal(0.0, 1.0, (len(p.ended_us), 8))
        p.scalars = np.column_stack([p.scalars, noise])
        return p

    healthy = [with_noise(pair(rng, 4, 150)) for _ in range(60)]
    false = [compare_window(p, 4 * HOUR, split).is_alert for p in healthy]
    assert np.mean(false) <= 0.1  # 60 trials at 0.05: above 0.1 is 2.4 SDs out
    p_split, p_joint = [], []
    for _ in range(30):
        p = with_noise(pair(rng, 4, 80, drift=(3, 4)))
        p_split.append(compare_window(p, 4 * HOUR, split).p_value)
        p_joint.append(compare_window(p, 4 * HOUR, joint).p_value)
    assert np.median(p_split) < np.median(p_joint) / 2
    assert compare_window(p, 4 * HOUR, split).dimensions <= 3  # the tool-mix test reports


def test_split_tests_come_from_the_model_meta() -> None:
    assert settings_from({"fingerprint": {"split_tests": True}}).split_tests


def clustered_calls(
    rng: np.random.Generator, n: int, mix: list[float], concentration: float = 9.0
) -> np.ndarray:
    """Per-run tool-call counts (runs x tools) whose calls are correlated within a run: each
    run draws its own mix around ``mix`` (Dirichlet; within-run correlation
    1 / (concentration + 1)), then a skewed number of calls from it (some runs none)."""
    calls = rng.geometric(0.2, n) - 1 + rng.integers(0, 2, n)
    own = rng.dirichlet(concentration * np.asarray(mix), n)
    return rng.multinomial(calls, own).astype(float)


def naive_call_test(baseline: np.ndarray, current: np.ndarray) -> float:
    """The test that treats every call as independent: a multinomial Wald test over calls."""
    p_b, p_c = baseline.sum(0) / baseline.sum(), current.sum(0) / current.sum()
    p = (baseline.sum(0) + current.sum(0)) / (baseline.sum() + current.sum())
    d = (p_c - p_b)[:-1]
    cov = (np.diag(p) - np.outer(p, p))[:-1, :-1] * (1 / baseline.sum() + 1 / current.sum())
    return float(stats.chi2.sf(d @ np.linalg.solve(cov, d), len(d)))


MIX = [0.5, 0.25, 0.15, 0.1]


def test_call_mix_test_is_calibrated_on_clustered_runs() -> None:
    """1,000 A/A draws of a thin window (30 runs) against a 400-run baseline: the rejection
    rate at 0.01 stays within 3 binomial SDs of 1 % (0.0194), where a chi-square over calls
    that ignores their correlation within runs rejects several times too often."""
    rng = np.random.default_rng(12)
    robust, naive = [], []
    for _ in range(1000):
        b, c = clustered_calls(rng, 400, MIX), clustered_calls(rng, 30, MIX)
        robust.append(ratio_hotelling(b, c).p_value)
        naive.append(naive_call_test(b, c))
    robust, naive = np.array(robust), np.array(naive)
    bound = 3 * np.sqrt(0.01 * 0.99 / 1000)
    assert np.mean(robust < 0.01) <= 0.01 + bound
    assert abs(np.mean(robust < 0.05) - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / 1000)
    assert np.mean(naive < 0.01) > 0.05


def test_call_mix_test_has_more_power_than_per_run_shares_on_a_thin_window() -> None:
    """A 20 % tool-mix shift in 40 runs: every call counts, so the ratio test rejects more
    often than T² on per-run shares (which weighs a 1-call run like a 20-call one)."""
    rng = np.random.default_rng(13)
    moved = np.array(MIX) * 0.8
    moved[2] += 0.2
    on_calls, on_shares = [], []
    for _ in range(200):
        b, c = clustered_calls(rng, 400, MIX), clustered_calls(rng, 40, list(moved))
        on_calls.append(ratio_hotelling(b, c).p_value)
        shares = [x / np.maximum(x.sum(axis=1, keepdims=True), 1) for x in (b, c)]
        on_shares.append(hotelling(*shares).p_value)
    power_calls, power_shares = (
        np.mean(np.array(on_calls) < 0.001),
        np.mean(np.array(on_shares) < 0.001),
    )
    assert power_calls >= 0.6 and power_calls > power_shares + 0.05


def test_rare_tools_are_merged_so_the_tail_stays_calibrated() -> None:
    """Two tools a 30-run window calls about once or twice: unmerged, a count of 2 coming out
    at 7 looks like many SDs and A/A windows reject too often; merged (Cochran's rule of
    five), the rate at 0.01 stays within 3 binomial SDs."""
    rng = np.random.default_rng(16)
    mix = [0.55, 0.25, 0.12, 0.05, 0.02, 0.01]
    merged, unmerged = [], []
    for _ in range(1000):
        b, c = clustered_calls(rng, 400, mix), clustered_calls(rng, 30, mix)
        merged.append(ratio_hotelling(b, c).p_value)
        unmerged.append(ratio_hotelling(b, c, min_expected=0.0).p_value)
    assert np.mean(np.array(merged) < 0.01) <= 0.01 + 3 * np.sqrt(0.01 * 0.99 / 1000)
    assert np.mean(np.array(unmerged) < 0.01) > np.mean(np.array(merged) < 0.01) + 0.005


def test_within_run_correlation_is_estimated() -> None:
    rng = np.random.default_rng(14)
    for concentration, rho in ((9.0, 0.1), (1.0, 0.5), (1e9, 0.0)):
        x = clustered_calls(rng, 4000, MIX, concentration)
        n = x.sum(axis=1)
        mix = x.sum(axis=0) / n.sum()
        assert abs(design_correlation(x - np.outer(n, mix), n, mix) - rho) < 0.03


def test_call_mix_test_in_windows_is_calibrated_and_alerts_on_a_shift() -> None:
    """compare_window with tool_mix_on_calls: healthy pairs stay within alpha (Bonferroni
    over the call test and the scalars' T²), a tool-mix shift alerts and reports the call
    test (two tool dimensions)."""
    rng = np.random.default_rng(15)
    calls = replace(SETTINGS, tool_mix_on_calls=True, alpha=0.05)
    healthy = [pair(rng, 4, 150) for _ in range(60)]
    assert np.mean([compare_window(p, 4 * HOUR, calls).is_alert for p in healthy]) <= 0.1
    drifted = [pair(rng, 5, 60, drift=(4, 5)) for _ in range(10)]  # 60 runs in the hour
    results = [compare_window(p, 5 * HOUR, calls) for p in drifted]
    assert all(r.is_alert and r.dimensions == 2 for r in results)
    with pytest.raises(ValueError, match="tool-call counts"):
        p = pair(rng, 5, 60)
        p.tool_calls = None
        compare_window(p, 5 * HOUR, calls)


def test_tool_mix_on_calls_comes_from_the_model_meta() -> None:
    assert settings_from({"fingerprint": {"tool_mix_on_calls": True}}).tool_mix_on_calls
