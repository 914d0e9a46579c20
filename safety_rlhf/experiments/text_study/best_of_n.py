"""Best-of-n sampling from ``pi_ref`` under a proxy reward, computed exactly.

For one prompt, ``M`` responses are drawn from ``pi_ref``
(:meth:`~safety_rlhf.task.reference_lm.ReferenceLM.sample` with the prompt's prior
``log pi_ref(strategy | prompt)``). Their distinct texts ``i`` have empirical probabilities
``p_i = count_i / M``; this empirical distribution stands in for ``pi_ref``. Best-of-n draws
``n`` responses from it independently and keeps the one the proxy scores highest.

**Exact formula.** Sort the distinct texts by proxy score, ascending. Texts with *equal*
scores form one group ``g`` (tie rule: best-of-n picks uniformly at random among the tied
draws, so within a group the chosen text is distributed as ``pi_ref`` restricted to the
group). With ``P_g`` the group's probability and ``F_g = P_1 + ... + P_g``::

    pi_bon(g) = F_g^n - F_(g-1)^n              (the best of n draws lands in group g)
    pi_bon(i) = pi_bon(g) p_i / P_g            (for a text i of group g)

so that ``E_bon[v] = sum_g pi_bon(g) vbar_g`` with ``vbar_g`` the ``p``-weighted mean of
``v`` over the group (``v``: gold reward, success, proxy, ...), and::

    KL(pi_bon || pi_ref) = sum_i pi_bon(i) log(pi_bon(i) / p_i)
                         = sum_g pi_bon(g) log(pi_bon(g) / P_g)        ("measured")

With ``M`` distinct texts of probability ``1/M`` each, this tends to ``log n - (n-1)/n``
(:func:`analytic_kl`, the bound of Stiennon et al. 2020 and Gao et al. 2022) as ``M`` grows;
repeated texts and ties make the measured KL smaller. A policy over prompts has the mean
KL over prompts, and ``d = sqrt(KL)``.

>>> w = bon_group_probs(np.array([0.5, 0.5]), np.array([2]))
>>> w.round(4).tolist()  # the better of two fair coins wins 3/4 of the time
[[0.25, 0.75]]
>>> float(bon_kl(np.array([0.5, 0.5]), w)[0]).__round__(4)  # 1/4 log(1/2) + 3/4 log(3/2)
0.1308
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BonCurve",
    "PromptSamples",
    "analytic_kl",
    "best_of_n_curve",
    "bon_group_probs",
    "bon_kl",
    "group_ties",
]


def analytic_kl(n: np.ndarray | Sequence[int] | int) -> np.ndarray:
    """``log n - (n - 1) / n``: the KL of best-of-n from a continuous distribution."""
    n_arr = np.asarray(n, dtype=np.float64)
    return np.log(n_arr) - (n_arr - 1.0) / n_arr


def group_ties(
    proxy: np.ndarray, probs: np.ndarray, values: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sort texts by proxy score (ascending) and merge equal scores into groups.

    :param proxy: ``(U,)`` proxy score per distinct text.
    :param probs: ``(U,)`` empirical probability per text (summing to 1).
    :param values: name -> ``(U,)`` per-text value (gold reward, success, ...).
    :return: ``P`` ``(G,)`` group probabilities in ascending proxy order and, per name,
        the ``p``-weighted mean of the value within each group (``proxy`` included).
    """
    proxy = np.asarray(proxy, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    if proxy.shape != p.shape or proxy.ndim != 1 or not len(p):
        raise ValueError("proxy and probs must be 1-d arrays of the same, non-zero length")
    order = np.argsort(proxy, kind="stable")
    sorted_proxy = proxy[order]
    starts = np.flatnonzero(np.r_[True, sorted_proxy[1:] != sorted_proxy[:-1]])
    group_p = np.add.reduceat(p[order], starts)
    means = {"proxy": sorted_proxy[starts]}
    for name, v in values.items():
        weighted = np.add.reduceat(np.asarray(v, dtype=np.float64)[order] * p[order], starts)
        means[name] = weighted / group_p
    return group_p, means


def bon_group_probs(group_p: np.ndarray, ns: np.ndarray | Sequence[int]) -> np.ndarray:
    """``pi_bon(g) = F_g^n - F_(g-1)^n`` for each ``n``: float64 ``(len(ns), G)``.

    :param group_p: ``(G,)`` group probabilities in ascending proxy order (sum 1).
    :param ns: the values of ``n`` (``>= 1``).
    """
    p = np.asarray(group_p, dtype=np.float64)
    n = np.asarray(ns, dtype=np.float64)[:, None]
    if np.any(n < 1):
        raise ValueError("n must be >= 1")
    cum = np.cumsum(p)
    cum /= cum[-1]  # exactly 1 at the top, so the rows sum to 1
    prev = np.r_[0.0, cum[:-1]]
    return cum[None, :] ** n - prev[None, :] ** n


def bon_kl(group_p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_g pi_bon(g) log(pi_bon(g) / P_g)`` per row of ``weights`` (``0 log 0 = 0``)."""
    p = np.asarray(group_p, dtype=np.float64)[None, :]
    w = np.asarray(weights, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(w > 0, w * (np.log(w) - np.log(p)), 0.0)
    return np.maximum(terms.sum(axis=1), 0.0)


@dataclass(frozen=True)
class PromptSamples:
    """The distinct responses of ``M`` samples from ``pi_ref`` for one prompt.

    :param counts: ``(U,)`` how many of the ``M`` samples are each text.
    :param proxy: ``(U,)`` the proxy reward model's score of each text.
    :param values: name -> ``(U,)`` per-text figures (``gold_reward``, ``gold_success``,
        ``degenerate``, ...), averaged under best-of-n.
    """

    counts: np.ndarray
    proxy: np.ndarray
    values: Mapping[str, np.ndarray]

    @property
    def probs(self) -> np.ndarray:
        counts = np.asarray(self.counts, dtype=np.float64)
        return counts / counts.sum()


@dataclass(frozen=True)
class BonCurve:
    """Best-of-n over a set of prompts, one entry per ``n`` (means over prompts).

    :param ns: the values of ``n``.
    :param kl: measured ``KL(pi_bon || empirical pi_ref)``, mean over prompts.
    :param kl_bound: ``log n - (n-1)/n``.
    :param means: name -> expected value under best-of-n, mean over prompts (``proxy``
        and every name of the samples' ``values``).
    """

    ns: np.ndarray
    kl: np.ndarray
    kl_bound: np.ndarray
    means: dict[str, np.ndarray]

    @property
    def d(self) -> np.ndarray:
        """``sqrt(KL)`` of the measured KL."""
        return np.sqrt(self.kl)


def best_of_n_curve(samples: Sequence[PromptSamples], ns: Sequence[int]) -> BonCurve:
    """Exact best-of-n expectations and KL for every ``n``, averaged over prompts (module
    docstring). Prompts whose value is NaN (unlabelled) are left out of that value's mean."""
    if not samples:
        raise ValueError("best_of_n_curve needs at least one prompt")
    n_arr = np.asarray(ns, dtype=np.int64)
    kl = np.zeros((len(samples), len(n_arr)))
    names = ["proxy", *samples[0].values]
    per_prompt = {name: np.zeros((len(samples), len(n_arr))) for name in names}
    for k, s in enumerate(samples):
        group_p, means = group_ties(s.proxy, s.probs, s.values)
        w = bon_group_probs(group_p, n_arr)
        kl[k] = bon_kl(group_p, w)
        for name in names:
            per_prompt[name][k] = w @ means[name]
    with np.errstate(invalid="ignore"):
        out = {
            name: np.nanmean(v, axis=0) if np.isfinite(v).any() else np.full(len(n_arr), np.nan)
            for name, v in per_prompt.items()
        }
    return BonCurve(n_arr, kl.mean(axis=0), analytic_kl(n_arr), out)
