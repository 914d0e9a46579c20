"""The functional forms of Gao et al. (2022), fitted to gold-reward curves by least squares.

With ``d = sqrt(KL(pi || pi_ref))`` and ``R(d)`` the gold reward minus its value at ``d = 0``
(``pi_ref`` itself)::

    best-of-n:  R_bon(d) = d (alpha - beta d)        peak at d* = alpha / (2 beta)
    RL:         R_RL(d)  = d (alpha - beta log d)    peak at d* = exp(alpha / beta - 1)

Both forms are linear in ``(alpha, beta)`` and vanish at ``d = 0``, so the fit is ordinary
least squares without intercept on the points with ``d > 0`` (a point at ``d = 0`` fits
exactly whatever the parameters and is left out of the fit and of ``R^2``).
``R^2 = 1 - SS_res / SS_tot`` with ``SS_tot`` about the mean of the fitted points. A peak
exists only for ``beta > 0``; :func:`assess` says in words where the form does not
describe the data (``R^2`` below :data:`GOOD_R2`, a peak outside the measured range of
``d``, or ``beta <= 0``).

>>> d = np.array([0.5, 1.0, 1.5, 2.0])
>>> fit = fit_form("bon", d, d * (1.0 - 0.25 * d))
>>> round(fit.alpha, 6), round(fit.beta, 6), round(fit.r2, 6), round(fit.d_peak, 6)
(1.0, 0.25, 1.0, 2.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["FORMS", "GOOD_R2", "Fit", "assess", "fit_form", "predict"]

#: The forms by name: ``"bon"`` and ``"rl"``.
FORMS: tuple[str, ...] = ("bon", "rl")
#: ``R^2`` at or above which a form is said to fit.
GOOD_R2 = 0.9


@dataclass(frozen=True)
class Fit:
    """One least-squares fit of a form (module docstring).

    :param form: ``"bon"`` or ``"rl"``.
    :param alpha: fitted ``alpha``.
    :param beta: fitted ``beta``.
    :param r2: coefficient of determination on the fitted points (NaN if undefined).
    :param d_peak: ``d`` of the fitted form's maximum (NaN when ``beta <= 0``: no peak).
    :param r_peak: the fitted form's value at ``d_peak`` (NaN without a peak).
    :param d_min: smallest fitted ``d``.
    :param d_max: largest fitted ``d``.
    :param points: number of fitted points.
    :param intercept: the fitted constant ``c`` (0.0 unless fitted with ``intercept``).
    """

    form: str
    alpha: float
    beta: float
    r2: float
    d_peak: float
    r_peak: float
    d_min: float
    d_max: float
    points: int
    intercept: float = 0.0


def _design(form: str, d: np.ndarray) -> np.ndarray:
    if form == "bon":
        return np.stack([d, -(d**2)], axis=1)
    if form == "rl":
        return np.stack([d, -d * np.log(d)], axis=1)
    raise ValueError(f"unknown form {form!r}; expected one of {FORMS}")


def predict(
    form: str, alpha: float, beta: float, d: np.ndarray, intercept: float = 0.0
) -> np.ndarray:
    """``c + R(d)`` of ``form`` with the given parameters (``R(0) = 0``)."""
    d = np.asarray(d, dtype=np.float64)
    safe = np.where(d > 0, d, 1.0)
    return intercept + np.where(d > 0, _design(form, safe) @ np.array([alpha, beta]), 0.0)


def fit_form(form: str, d: np.ndarray, r: np.ndarray, intercept: bool = False) -> Fit:
    """Least-squares ``alpha, beta`` of ``form`` to the points ``(d, r)`` with ``d > 0``.

    :param intercept: also fit a constant ``c`` (``c + R(d)``): for a curve that does not
        start at ``pi_ref`` (PPO starts from an imperfect imitation of it). The peak of
        ``c + R`` is the peak of ``R``; ``r_peak`` is ``c + R(d*)``.
    :raises ValueError: with fewer than two such points (three with ``intercept``).
    """
    d = np.asarray(d, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    keep = (d > 0) & np.isfinite(d) & np.isfinite(r)
    d, r = d[keep], r[keep]
    need = 3 if intercept else 2
    if len(d) < need:
        raise ValueError(f"fitting {form!r} needs at least {need} points with d > 0, got {len(d)}")
    x = _design(form, d)
    if intercept:
        x = np.concatenate([x, np.ones((len(d), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(x, r, rcond=None)
    alpha, beta = float(coef[0]), float(coef[1])
    c = float(coef[2]) if intercept else 0.0
    residual = r - x @ coef
    ss_tot = float(np.sum((r - r.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / ss_tot if ss_tot > 0 else math.nan
    d_peak = math.nan
    if beta > 0:
        if form == "bon":
            ratio = alpha / (2.0 * beta)
            d_peak = ratio if ratio > 0 else math.nan
        else:
            ratio = alpha / beta - 1.0
            d_peak = math.exp(ratio) if ratio < 700 else math.inf
    r_peak = math.nan
    if math.isfinite(d_peak):
        r_peak = float(predict(form, alpha, beta, np.array([d_peak]), c)[0])
    return Fit(form, alpha, beta, r2, d_peak, r_peak, float(d.min()), float(d.max()), len(d), c)


def assess(fit: Fit) -> str:
    """Where the form fits and where not, in words (``R^2``, sign of ``beta``, the peak
    against the measured range of ``d``)."""
    notes = []
    if not math.isfinite(fit.r2):
        notes.append("R^2 undefined (flat curve)")
    elif fit.r2 >= GOOD_R2:
        notes.append(f"fits (R^2 {fit.r2:.2f})")
    else:
        notes.append(f"poor fit (R^2 {fit.r2:.2f} < {GOOD_R2})")
    if fit.beta <= 0:
        notes.append("beta <= 0: the form has no peak (gold never turns down)")
    elif not math.isfinite(fit.d_peak):
        notes.append("no peak at d > 0 (alpha <= 0: gold falls from the start)")
    elif fit.d_peak > fit.d_max:
        notes.append(f"peak d* = {fit.d_peak:.2f} beyond the measured d <= {fit.d_max:.2f}")
    elif fit.d_peak < fit.d_min:
        notes.append(f"peak d* = {fit.d_peak:.2f} before the first measured d = {fit.d_min:.2f}")
    else:
        notes.append(f"peak inside the measured range (d* = {fit.d_peak:.2f})")
    return "; ".join(notes)
