"""Two-sample tests on per-run behavioural vectors: Hotelling's T² on whitened components.

Why Hotelling and not an energy distance or a classifier: measured in
``bench/fingerprint.py`` and docs/fingerprints.md. In short, the drifts that
matter (tool mix, output length, step count) move the mean of the per-run
vector, where Hotelling's test is the most powerful invariant test, and it
costs well under a millisecond where a permutation test costs a second per pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

# Components whose variance is below this share of the total are numerically
# zero (tool shares sum to one, so one direction always has no variance).
_RANK_TOLERANCE = 1e-6
# Eigenvalues are floored at this share of the mean eigenvalue: a direction in
# which the runs hardly vary would otherwise turn rounding noise into a huge
# distance. Flooring only shrinks distances, so the test stays conservative.
_EIGEN_FLOOR = 0.01
# Scale given to a feature that never varies in the baseline (shares are in [0, 1]).
_SCALE_FLOOR = 0.01
# A tool the current window is expected to call fewer times than this (at the baseline's
# mix) is merged with the other rare ones before the call-count test (Cochran's rule of
# five for chi-square cells).
MIN_EXPECTED_CALLS = 5.0


@dataclass(frozen=True)
class Whitener:
    """Maps vectors to coordinates in which a covariance is the identity (degenerate axes dropped)."""

    center: np.ndarray
    keep: np.ndarray  # features that vary at all
    scale: np.ndarray
    axes: np.ndarray  # eigenvectors (kept features x components)
    variances: np.ndarray  # eigenvalues, floored

    @classmethod
    def fit(cls, center: np.ndarray, cov: np.ndarray, *, keep_degenerate: bool = False) -> Whitener:
        """Whiten by ``cov``. With ``keep_degenerate``, directions without variance are kept
        with floored variance, so a vector that leaves them (a run using a tool its baseline
        never used) is far away instead of invisible; a test of means drops them instead."""
        cov = np.atleast_2d(cov)
        scale = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        keep = scale > 1e-12  # constant everywhere: carries no information
        if keep_degenerate:
            scale = np.where(keep, scale, _SCALE_FLOOR)
            keep = np.ones_like(keep)
        if not keep.any():
            return cls(center, keep, scale, np.zeros((0, 0)), np.zeros(0))
        corr = cov[np.ix_(keep, keep)] / np.outer(scale[keep], scale[keep])
        values, vectors = np.linalg.eigh(corr)
        if not keep_degenerate:
            usable = values > _RANK_TOLERANCE * values.sum()
            values, vectors = values[usable], vectors[:, usable]
        values = np.maximum(values, _EIGEN_FLOOR * max(values.mean(), 1e-12))
        return cls(center, keep, scale, vectors, values)

    @property
    def dimensions(self) -> int:
        return len(self.variances)

    def squared_distances(self, x: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row of ``x`` from the center."""
        if self.dimensions == 0:
            return np.zeros(len(np.atleast_2d(x)))
        z = (np.atleast_2d(x) - self.center)[:, self.keep] / self.scale[self.keep]
        projected = z @ self.axes
        return np.sum(projected**2 / self.variances, axis=1)


@dataclass(frozen=True)
class Comparison:
    """Result of comparing current runs with baseline runs."""

    n_current: int
    n_baseline: int
    distance: float  # bias-corrected Mahalanobis distance between means, in per-run SDs
    statistic: float  # Hotelling's T²
    p_value: float
    dimensions: int  # components the test used


def pooled_covariance(baseline: np.ndarray, current: np.ndarray) -> np.ndarray:
    m, n = len(baseline), len(current)
    return (
        np.atleast_2d(np.cov(baseline, rowvar=False, ddof=1)) * (m - 1)
        + np.atleast_2d(np.cov(current, rowvar=False, ddof=1)) * (n - 1)
    ) / (m + n - 2)


def hotelling(baseline: np.ndarray, current: np.ndarray) -> Comparison:
    """Hotelling's two-sample T² test with pooled covariance, on the non-degenerate components.

    Features are scaled by their pooled standard deviation, the pooled
    correlation matrix is eigen-decomposed, numerically empty directions are
    dropped, and T² is referred to its F distribution. ``distance`` subtracts
    the squared distance that sampling noise alone adds on average
    (p·(1/n + 1/m)), so it estimates the true shift whatever the sample sizes.
    """
    m, n = len(baseline), len(current)
    if m < 2 or n < 2:
        raise ValueError("each sample needs at least two runs")
    mean_b = baseline.mean(axis=0)
    whitener = Whitener.fit(mean_b, pooled_covariance(baseline, current))
    p = whitener.dimensions
    if p == 0:  # every feature constant in both samples: identical as far as we can see
        return Comparison(n, m, 0.0, 0.0, 1.0, 0)
    d2 = float(whitener.squared_distances(current.mean(axis=0))[0])
    return f_comparison(n, m, d2, 1 / n + 1 / m, p)


def f_comparison(n: int, m: int, d2: float, noise: float, p: int) -> Comparison:
    """Hotelling's F reference for a squared whitened mean difference ``d2`` whose null
    expectation per dimension is ``noise`` (1/n + 1/m for plain means), ``p`` dimensions,
    ``n`` current and ``m`` baseline runs as the independent units."""
    t2 = d2 / noise
    distance = float(np.sqrt(max(0.0, d2 - p * noise)))
    dof = m + n - p - 1
    if dof <= 0:
        return Comparison(n, m, distance, t2, 1.0, p)
    f = t2 * dof / (p * (m + n - 2))
    return Comparison(n, m, distance, t2, float(stats.f.sf(f, p, dof)), p)


def ratio_hotelling(
    baseline: np.ndarray, current: np.ndarray, min_expected: float = MIN_EXPECTED_CALLS
) -> Comparison:
    """Tool mix on call counts: each sample's ratio estimate p_k = sum_i c_ik / sum_i n_i,
    with a cluster-robust (per-run) variance, as a Hotelling-type T² with an F reference.

    ``baseline`` and ``current`` are runs x tools call counts (c_ik; n_i = row sums; a run
    without tool calls is a row of zeros). Calls within one run are correlated, so the
    variance is not the multinomial one over calls: it comes from the per-run residuals
    e_i = c_i - p n_i (linearization of the ratio, as in Rao-Scott corrections), pooled over
    both samples around each sample's own ratio (the null is that both samples come from the
    same run distribution, as Hotelling's pooled covariance assumes).

    A run's residual grows with its calls, by n_i (1 + (n_i - 1) rho) when its calls share a
    within-run correlation rho (the design effect; rho = 0: independent calls, rho = 1: a run
    calls one mix). rho is estimated from the pooled residuals by moments, and the variance
    of each sample's ratio sums that factor over its own runs: conditional on how many calls
    each run made, so a thin window that happens to hold a few long runs gets its wider
    variance. Tools the current window is expected to call fewer than ``min_expected`` times
    are merged first (``merge_rare_tools``). ``distance`` is in per-run SDs as ``hotelling``'s (sqrt(d' S^-1 d - dims
    (1/n' + 1/m')), S the covariance of an average run's share, n' and m' the effective run
    counts), T² = d' S^-1 d / (1/n' + 1/m'), and the F reference takes the run counts,
    which are the independent units.
    """
    m, n = len(baseline), len(current)
    if m < 2 or n < 2:
        raise ValueError("each sample needs at least two runs")
    baseline, current = merge_rare_tools(baseline, current, min_expected)
    calls_b, calls_c = baseline.sum(axis=1), current.sum(axis=1)
    total_b, total_c = calls_b.sum(), calls_c.sum()
    if total_b <= 0 or total_c <= 0:  # no tool calls on one side: no mix to compare
        return Comparison(n, m, 0.0, 0.0, 1.0, 0)
    p_b, p_c = baseline.sum(axis=0) / total_b, current.sum(axis=0) / total_c
    calls = np.r_[calls_b, calls_c]
    resid = np.vstack([baseline - np.outer(calls_b, p_b), current - np.outer(calls_c, p_c)])
    rho = design_correlation(resid, calls, (total_b * p_b + total_c * p_c) / (total_b + total_c))
    weight = calls * (1 + np.maximum(calls - 1, 0) * rho)  # E|e_i|² up to a constant
    # Covariance of the residual per unit of weight (ddof: one ratio fitted per sample).
    unit = resid.T @ resid / weight.sum() * (m + n) / (m + n - 2)
    nbar, wbar = calls.mean(), weight.mean()
    per_run = unit * wbar / nbar**2  # covariance of an average run's tool shares
    whitener = Whitener.fit(np.zeros(baseline.shape[1]), per_run)
    p = whitener.dimensions
    if p == 0:
        return Comparison(n, m, 0.0, 0.0, 1.0, 0)
    # Var(p_c - p_b) = unit * (W_b / N_b² + W_c / N_c²) = per_run * noise
    noise = nbar**2 / wbar * (weight[:m].sum() / total_b**2 + weight[m:].sum() / total_c**2)
    d2 = float(whitener.squared_distances(p_c - p_b)[0])
    return f_comparison(n, m, d2, noise, p)


def merge_rare_tools(
    baseline: np.ndarray, current: np.ndarray, min_expected: float = MIN_EXPECTED_CALLS
) -> tuple[np.ndarray, np.ndarray]:
    """Sum the tools the current window would call fewer than ``min_expected`` times (at the
    baseline's mix) into one column, as a chi-square test merges sparse cells: a count
    expected at 2 that comes out at 7 is not rare enough to be 3 normal SDs, and the normal
    reference would say it is. If the merged column is itself that sparse, it joins the
    sparsest kept tool. Decided from the baseline mix and the current window's call total
    alone, not from the current mix, so the merging cannot chase a shift."""
    total_b, total_c = baseline.sum(), current.sum()
    if total_b <= 0 or total_c <= 0:
        return baseline, current
    expected = baseline.sum(axis=0) / total_b * total_c
    order = np.argsort(-expected, kind="stable")
    keep = order[expected[order] >= min_expected]
    rare = order[expected[order] < min_expected]
    if len(rare) <= 1 and (len(rare) == 0 or expected[rare].sum() >= min_expected):
        return baseline, current
    if len(keep) and expected[rare].sum() < min_expected:
        rare, keep = np.r_[rare, keep[-1:]], keep[:-1]

    def merged(x: np.ndarray) -> np.ndarray:
        return np.column_stack([x[:, keep], x[:, rare].sum(axis=1)])

    return merged(baseline), merged(current)


def design_correlation(resid: np.ndarray, calls: np.ndarray, mix: np.ndarray) -> float:
    """Moment estimate of the within-run correlation of tool choice, in [0, 1].

    With a common mix p and K tools used, a run's Pearson sum Q_i = sum_k e_ik² / p_k has
    expectation (K - 1) n_i (1 + (n_i - 1) rho) (multinomial calls: rho = 0)."""
    used = mix > 0
    k = int(used.sum())
    if k < 2:
        return 0.0
    q = np.sum(resid[:, used] ** 2 / mix[used], axis=1)
    pairs = float(np.sum(calls * np.maximum(calls - 1, 0))) * (k - 1)
    if pairs <= 0:
        return 0.0
    return float(np.clip(np.sum(q - (k - 1) * calls) / pairs, 0.0, 1.0))
