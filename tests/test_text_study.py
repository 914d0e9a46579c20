"""The text studies (``safety-rlhf text-study``): the exact best-of-n formulas against closed
forms and brute force, the fitted forms on synthetic data, interpolation at matched KL, and
the three commands end to end with ``--quick``."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from safety_rlhf.experiments.text_study.best_of_n import (
    PromptSamples,
    analytic_kl,
    best_of_n_curve,
    bon_group_probs,
    bon_kl,
    group_ties,
)
from safety_rlhf.experiments.text_study.curves import Curve, interpolate
from safety_rlhf.experiments.text_study.fits import assess, fit_form, predict
from safety_rlhf.experiments.text_study.matched_kl import kl_targets
from safety_rlhf.experiments.text_study.ppo_curves import snapshot_steps

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- best-of-n ----------------------------------------------------------------------------


def test_best_of_two_fair_coins_by_hand() -> None:
    group_p, means = group_ties(
        np.array([1.0, 0.0]), np.array([0.5, 0.5]), {"v": np.array([7.0, 3.0])}
    )
    assert group_p.tolist() == [0.5, 0.5]  # sorted ascending: the 0.0 text first
    assert means["v"].tolist() == [3.0, 7.0]
    w = bon_group_probs(group_p, [1, 2, 3])
    np.testing.assert_allclose(w, [[0.5, 0.5], [0.25, 0.75], [0.125, 0.875]])
    kl = bon_kl(group_p, w)
    assert kl[0] == 0.0
    assert kl[1] == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5), abs=1e-15)
    assert kl[2] == pytest.approx(0.125 * math.log(0.25) + 0.875 * math.log(1.75), abs=1e-15)


def _brute_force(proxy: list[float], p: list[float], v: list[float], n: int) -> tuple[float, float]:
    """E[v] and KL of best-of-n by enumerating every n-tuple of draws; ties broken uniformly
    at random among the tied draws (each tied draw equally likely to be kept)."""
    chosen = np.zeros(len(p))
    for draw in itertools.product(range(len(p)), repeat=n):
        prob = math.prod(p[i] for i in draw)
        top = max(proxy[i] for i in draw)
        tied = [i for i in draw if proxy[i] == top]
        for i in tied:
            chosen[i] += prob / len(tied)
    ev = float(chosen @ np.array(v))
    kl = float(sum(c * math.log(c / q) for c, q in zip(chosen, p, strict=True) if c > 0))
    return ev, kl


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_exact_formula_matches_brute_force_with_ties(n: int) -> None:
    proxy = [0.3, 0.9, 0.3, -1.0, 0.9]  # two ties
    counts = np.array([3, 1, 2, 5, 1])
    p = (counts / counts.sum()).tolist()
    v = [1.0, -1.0, 0.5, 0.0, 0.2]
    samples = PromptSamples(counts, np.array(proxy), {"v": np.array(v)})
    curve = best_of_n_curve([samples], [n])
    ev, kl = _brute_force(proxy, p, v, n)
    assert curve.means["v"][0] == pytest.approx(ev, abs=1e-12)
    assert curve.kl[0] == pytest.approx(kl, abs=1e-12)


def test_all_tied_scores_leave_pi_ref_unchanged() -> None:
    samples = PromptSamples(np.array([1, 2, 5]), np.zeros(3), {"v": np.array([1.0, 2.0, 3.0])})
    curve = best_of_n_curve([samples], [1, 8, 512])
    np.testing.assert_allclose(curve.kl, 0.0, atol=1e-15)
    np.testing.assert_allclose(curve.means["v"], (1 + 4 + 15) / 8)


def test_distinct_samples_approach_the_analytic_kl_as_m_grows() -> None:
    ns = np.array([1, 2, 4, 16, 64, 512])
    assert analytic_kl([1])[0] == 0.0
    errors = []
    for m in (1_000, 10_000, 200_000):
        w = bon_group_probs(np.full(m, 1.0 / m), ns)
        kl = bon_kl(np.full(m, 1.0 / m), w)
        assert np.all(kl <= analytic_kl(ns) + 1e-12)  # the discrete KL stays below the bound
        errors.append(np.abs(kl - analytic_kl(ns)).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02


def test_best_of_n_of_uniform_values_has_mean_n_over_n_plus_1() -> None:
    m = 100_000
    values = (np.arange(m) + 0.5) / m
    samples = PromptSamples(np.ones(m, dtype=np.int64), values.copy(), {"v": values})
    curve = best_of_n_curve([samples], [1, 3, 9])
    np.testing.assert_allclose(curve.means["v"], [1 / 2, 3 / 4, 9 / 10], atol=1e-4)


def test_curve_averages_prompts() -> None:
    a = PromptSamples(np.array([1, 1]), np.array([0.0, 1.0]), {"v": np.array([0.0, 1.0])})
    b = PromptSamples(np.array([4]), np.array([0.0]), {"v": np.array([2.0])})
    curve = best_of_n_curve([a, b], [2])
    assert curve.means["v"][0] == pytest.approx((0.75 + 2.0) / 2)
    assert curve.kl[0] == pytest.approx((0.25 * math.log(0.5) + 0.75 * math.log(1.5)) / 2)
    assert curve.d[0] == pytest.approx(math.sqrt(curve.kl[0]))


# -- fits ---------------------------------------------------------------------------------


def test_fits_recover_known_parameters() -> None:
    d = np.linspace(0.1, 3.0, 25)
    bon = fit_form("bon", d, d * (0.8 - 0.3 * d))
    assert (bon.alpha, bon.beta, bon.r2) == pytest.approx((0.8, 0.3, 1.0))
    assert bon.d_peak == pytest.approx(0.8 / 0.6)
    assert bon.r_peak == pytest.approx(0.8**2 / (4 * 0.3))
    rl = fit_form("rl", d, d * (0.5 - 0.2 * np.log(d)))
    assert (rl.alpha, rl.beta, rl.r2) == pytest.approx((0.5, 0.2, 1.0))
    assert rl.d_peak == pytest.approx(math.exp(0.5 / 0.2 - 1))
    assert "beyond the measured" in assess(rl)  # exp(1.5) = 4.5 > 3
    assert "inside the measured range" in assess(bon)
    shifted = fit_form("rl", d[5:], 0.3 + d[5:] * (0.5 - 0.2 * np.log(d[5:])), intercept=True)
    assert (shifted.alpha, shifted.beta, shifted.intercept) == pytest.approx((0.5, 0.2, 0.3))
    assert shifted.d_peak == pytest.approx(rl.d_peak) and shifted.r2 == pytest.approx(1.0)
    assert shifted.r_peak == pytest.approx(0.3 + rl.r_peak)


def test_fits_with_noise_and_a_curve_without_peak() -> None:
    rng = np.random.default_rng(0)
    d = np.linspace(0.2, 4.0, 40)
    noisy = fit_form("bon", d, d * (1.0 - 0.25 * d) + rng.normal(0, 0.01, len(d)))
    assert noisy.alpha == pytest.approx(1.0, abs=0.02)
    assert noisy.beta == pytest.approx(0.25, abs=0.01)
    rising = fit_form("bon", d, 0.5 * d + 0.1 * d**2)
    assert rising.beta < 0 and math.isnan(rising.d_peak)
    assert "no peak" in assess(rising)
    np.testing.assert_allclose(predict("rl", 0.5, 0.2, np.array([0.0, 1.0])), [0.0, 0.5])
    with pytest.raises(ValueError, match="at least 2 points"):
        fit_form("rl", np.array([0.0, 1.0]), np.array([0.0, 1.0]))


# -- curves ---------------------------------------------------------------------------------


def _curve(kl: list[float], gold: list[float], method: str = "ppo") -> Curve:
    points = [{"kl": k, "gold_success": g} for k, g in zip(kl, gold, strict=True)]
    return Curve("c", method, "rm", points)


def test_interpolation_reads_the_last_bracketing_segment() -> None:
    c = _curve([2.0, 4.0, 3.0], [0.5, 0.7, 0.1])
    assert interpolate(c, "gold_success", 3.5) == pytest.approx(0.4)  # 4 -> 3, not 2 -> 4
    assert interpolate(c, "gold_success", 2.5) == pytest.approx(0.55)  # only 2 -> 4
    assert math.isnan(interpolate(c, "gold_success", 1.0))
    assert math.isnan(interpolate(c, "gold_success", 5.0))
    assert interpolate(_curve([0.0], [0.3]), "gold_success", 0.0) == 0.3


def test_kl_targets_lie_where_best_of_n_and_a_ppo_curve_overlap() -> None:
    bon = _curve([0.0, 0.5, 1.6, 3.2], [0.5] * 4, "bon")
    ppo = [_curve([2.0, 6.0], [0.6, 0.4]), _curve([9.0, 12.0], [0.1, 0.1])]
    assert kl_targets(bon, ppo) == [(2.0, ""), (2.5, ""), (3.0, "")]
    ppo.append(_curve([4.0, 2.2], [0.6, 0.6]))
    assert kl_targets(bon, ppo)[1] == (2.2, "c: end of training")


def test_snapshot_steps_double_up_to_the_end() -> None:
    assert snapshot_steps(65_536, 8) == [0, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
    assert snapshot_steps(256, 3) == [0, 128, 256]
    assert snapshot_steps(4096, 14)[:4] == [0, 64, 91, 128]  # sqrt(2) apart
    assert snapshot_steps(10, 2) == [0, 10]
    with pytest.raises(ValueError):
        snapshot_steps(100, 1)


# -- the commands -----------------------------------------------------------------------------


def test_the_three_studies_run_quick_and_share_their_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safety_rlhf.experiments.cli import main

    runs = tmp_path / "runs"
    for study in ("overoptimisation", "samples", "matched-kl"):
        out = tmp_path / study
        argv = ["text-study", study, "--out", str(out), "--runs", str(runs), "--quick"]
        assert main(argv) == 0
        assert (out / "results.md").is_file() and (out / "results.csv").is_file()
        assert list(out.glob("*.png"))
        assert " ".join(argv) in (out / "results.md").read_text()
    log = capsys.readouterr().out
    # overoptimisation trained kl 0 and 0.05 (seed 0); samples added seed 1 and reused seed 0;
    # matched-kl trained nothing
    assert log.count("train ppo_") == 4
    assert log.count("reuse ") == 4
    with open(tmp_path / "overoptimisation" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    bon = [r for r in rows if r["method"] == "bon"]
    assert [int(r["n"]) for r in bon] == [1, 2, 4, 8, 16, 32]
    assert float(bon[0]["kl"]) == 0.0
    assert all(float(r["kl"]) <= float(r["kl_bound"]) + 1e-9 for r in bon)
    ppo_steps = [int(r["step"]) for r in rows if r["method"] == "ppo" and r["kl_coef"] == "0"]
    assert ppo_steps == [0, 128, 256]
    # a second run of the same command redoes nothing and rewrites its folder
    assert main(["text-study", "overoptimisation", "--out", str(tmp_path / "overoptimisation"),
                 "--runs", str(runs), "--quick"]) == 0  # fmt: skip
    assert "train ppo_" not in capsys.readouterr().out


def test_out_must_not_be_a_foreign_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safety_rlhf.experiments.cli import main

    (tmp_path / "notes.txt").write_text("mine")
    assert main(["text-study", "matched-kl", "--out", str(tmp_path), "--quick"]) == 2
    assert "not an output of" in capsys.readouterr().err


def test_a_runs_folder_of_other_settings_is_refused(tmp_path: Path) -> None:
    from safety_rlhf.experiments.text_study.ppo_curves import RunSpec, ensure_run

    spec = RunSpec("ppo_kl0_seed0_rule", 0.0, 0, "rule", timesteps=256, snapshots=3)
    (tmp_path / spec.tag).mkdir()
    (tmp_path / spec.tag / "study-run.json").write_text('{"tag": "ppo_kl0_seed0_rule"}')
    with pytest.raises(ValueError, match="other settings"):
        ensure_run(spec, tmp_path)
