"""``safety-rlhf benchmark``: rliable aggregation on synthetic cells, result files, resume."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from safety_rlhf.experiments import benchmark as bm
from safety_rlhf.experiments import train as train_module
from safety_rlhf.experiments.benchmark import grid as bm_grid
from safety_rlhf.experiments.benchmark import runner as bm_runner
from safety_rlhf.experiments.benchmark.plots import group_band
from safety_rlhf.experiments.cli import main
from safety_rlhf.task.metrics import METRIC_NAMES

REPS = 200  # bootstrap resamples in the fast tests

#: test gold_success per seed of each synthetic algorithm
GOLD = {
    "ppo": [0.0, 0.2, 0.3, 0.4, 1.0],  # IQM (middle three of five) 0.3, mean 0.38
    "a2c": [0.5] * 5,  # all seeds equal: zero-width intervals
    "dqn": [0.9, 0.1, 0.6, 0.2, 0.7],  # sorted 0.1 0.2 0.6 0.7 0.9: IQM 0.5
}


def _record(algo: str, seed: int, gold: float, kl_coef: float = 0.0) -> dict[str, Any]:
    """A cell record as ``done.json`` holds it, with made-up metrics."""
    test = {m: 0.25 for m in METRIC_NAMES}
    test.update(gold_success=gold, proxy_reward=2 * gold - 1, over_refusal=1 - gold)
    return {
        "cell": bm.cell_name(algo, kl_coef, seed),
        "algo": algo,
        "kl_coef": kl_coef,
        "seed": seed,
        "timesteps": 1000,
        "seconds": 1.5,
        "metrics": {"test": test, "train": dict(test)},
    }


@pytest.fixture(scope="module")
def cells() -> list[dict[str, Any]]:
    return [_record(a, s, g) for a, golds in GOLD.items() for s, g in enumerate(golds)]


@pytest.fixture(scope="module")
def agg(cells: list[dict[str, Any]]) -> bm.Aggregate:
    return bm.aggregate(cells, reps=REPS)


def _iqm_by_hand(values: list[float]) -> float:
    """Mean of the values left after dropping floor(n/4) from each end of the sorted list."""
    k = len(values) // 4
    kept = sorted(values)[k : len(values) - k]
    return sum(kept) / len(kept)


def test_groups_keep_order_and_labels(agg: bm.Aggregate) -> None:
    assert [g.label for g in agg.groups] == ["ppo", "a2c", "dqn"]
    assert all(g.seeds == (0, 1, 2, 3, 4) and g.kl_coef == 0.0 for g in agg.groups)


def test_iqm_equals_hand_computed_interquartile_mean(agg: bm.Aggregate) -> None:
    for g in agg.groups:
        golds = GOLD[g.algo]
        stats = g.metrics["gold_success"]
        assert stats.iqm == pytest.approx(_iqm_by_hand(golds))
        assert stats.mean == pytest.approx(statistics.fmean(golds))
        assert stats.std == pytest.approx(statistics.stdev(golds))
        assert stats.n == 5
        proxy = g.metrics["proxy_reward"]
        assert proxy.iqm == pytest.approx(_iqm_by_hand([2 * x - 1 for x in golds]))
    ppo = agg.groups[0].metrics["gold_success"]
    assert ppo.iqm == pytest.approx(0.3) and ppo.mean == pytest.approx(0.38)
    assert agg.groups[2].metrics["gold_success"].iqm == pytest.approx(0.5)


def test_confidence_intervals_contain_iqm_and_vanish_for_equal_seeds(agg: bm.Aggregate) -> None:
    for g in agg.groups:
        for m in bm.AGGREGATE_METRICS:
            s = g.metrics[m]
            assert s.ci_low - 1e-12 <= s.iqm <= s.ci_high + 1e-12, (g.label, m, s)
    spread = agg.groups[0].metrics["gold_success"]
    assert spread.ci_high - spread.ci_low > 0.1
    for m in bm.AGGREGATE_METRICS:
        equal = agg.groups[1].metrics[m]  # a2c: every seed the same
        assert equal.ci_high - equal.ci_low == pytest.approx(0.0, abs=1e-12)
        assert equal.std == 0.0


def test_performance_profile_counts_runs_above_threshold(agg: bm.Aggregate) -> None:
    taus = agg.taus
    assert taus[0] == 0.0 and taus[-1] == 1.0
    a2c = agg.profiles["a2c"]
    assert np.all(a2c[taus < 0.5] == 1.0) and np.all(a2c[taus >= 0.5] == 0.0)
    ppo = agg.profiles["ppo"]
    assert ppo[np.searchsorted(taus, 0.25)] == pytest.approx(0.6)  # 0.3, 0.4 and 1.0 > 0.25
    assert agg.profile_cis["ppo"].shape == (2, len(taus))


def test_aggregate_leaves_global_numpy_random_state_alone(cells: list[dict[str, Any]]) -> None:
    before = np.random.get_state()
    bm.aggregate(cells[:5], reps=20)
    after = np.random.get_state()
    assert np.array_equal(before[1], after[1]) and before[2] == after[2]


def test_kl_groups_and_missing_metrics() -> None:
    cells = [_record("ppo", s, g, kl_coef=kl) for kl in (0.0, 0.1) for s, g in enumerate([0.5, 1])]
    cells[0]["metrics"]["test"]["over_refusal"] = None  # unavailable for one seed
    for r in cells[2:]:
        r["metrics"]["test"]["over_refusal"] = None  # and for a whole group
    agg = bm.aggregate(cells, reps=REPS)
    assert [g.label for g in agg.groups] == ["ppo kl=0", "ppo kl=0.1"]
    first, second = (g.metrics["over_refusal"] for g in agg.groups)
    assert first.n == 1 and first.iqm == pytest.approx(0.0) and first.std == 0.0
    assert second.n == 0 and np.isnan(second.iqm) and np.isnan(second.ci_low)
    assert "n/a [n/a, n/a]" in bm.iqm_table(agg)


def test_result_files_have_expected_rows_and_columns(
    tmp_path: Path, cells: list[dict[str, Any]], agg: bm.Aggregate
) -> None:
    command = "safety-rlhf benchmark --algos ppo,a2c,dqn --seeds 5 --timesteps 1000"
    paths = bm.write_outputs(tmp_path, cells, agg, command=command, failures={"x": "Boom: no"})
    assert {p.name for p in paths} == {
        "results.csv",
        "results.md",
        "curves.png",
        "intervals.png",
        "profiles.png",
    }
    rows = list(csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text())))
    assert len(rows) == 15
    header = list(rows[0])
    assert header[:5] == ["algo", "kl_coef", "seed", "timesteps", "seconds"]
    assert {f"test_{m}" for m in bm.AGGREGATE_METRICS} <= set(header)
    assert [(r["algo"], int(r["seed"])) for r in rows[:2]] == [("ppo", 0), ("ppo", 1)]
    assert float(rows[4]["test_gold_success"]) == 1.0 and rows[4]["timesteps"] == "1000"

    md = (tmp_path / "results.md").read_text()
    assert (
        "| algo | kl_coef | seeds | gold_success | harmful_compliance | over_refusal | "
        "twin_over_refusal | proxy_reward |" in md
    )
    assert "| ppo | 0 | 5 | 0.300 [" in md and "| a2c | 0 | 5 | 0.500 [0.500, 0.500] |" in md
    assert "| ppo | 0 | 0.380 ± " in md
    assert command in md and "`x`: Boom: no" in md
    for name in ("curves.png", "intervals.png", "profiles.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_read_curves_from_tensorboard_events(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    for seed, offset in enumerate((0.0, 0.2)):
        writer = SummaryWriter(str(tmp_path / f"run{seed}" / "tb_1"))
        for step in (100, 200, 300):
            writer.add_scalar("safety/test/gold_success", offset + step / 1000, step)
        writer.close()
    curves = [bm.read_curves(tmp_path / f"run{s}") for s in (0, 1)]
    steps, values = curves[0]["safety/test/gold_success"]
    assert steps.tolist() == [100, 200, 300]
    assert values == pytest.approx([0.1, 0.2, 0.3])
    assert "safety/test/proxy_reward" not in curves[0]
    steps, mean, low, high = group_band([c["safety/test/gold_success"] for c in curves])
    assert mean == pytest.approx([0.2, 0.3, 0.4]) and high - low == pytest.approx([0.2] * 3)


# ---------------------------------------------------------------------------- resume


class FakeTrain:
    """Stands in for ``train``: counts calls, makes the run folder, fails on request."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[str] = []
        self.fail = fail or set()

    def __call__(self, cfg: train_module.TrainConfig, argv: list[str] | None = None) -> Any:
        cost_model = getattr(cfg, "cost_model", None)
        name = bm.cell_name(cfg.algo, cfg.kl_coef, cfg.seed, cfg.cost_limit, cost_model)
        self.calls.append(name)
        if name in self.fail:
            raise RuntimeError(f"synthetic failure of {name}")
        run_dir = Path(cfg.log_dir) / f"run{len(list(Path(cfg.log_dir).glob('run*'))) or ''}"
        run_dir.mkdir(parents=True)
        gold = 0.1 * (cfg.seed + 1) + (0.3 if cfg.algo == "ppo" else 0.0)
        metrics = _record(cfg.algo, cfg.seed, gold, cfg.kl_coef)["metrics"]
        return train_module.TrainResult(run_dir=run_dir, model=None, metrics=metrics, seconds=0.1)


def _config(out: Path, **kwargs: Any) -> bm.BenchmarkConfig:
    base: dict[str, Any] = dict(
        algos=["ppo", "a2c"], seeds=2, timesteps=64, reward_model="rule", jobs=1, reps=50
    )
    return bm.BenchmarkConfig(out=str(out), **{**base, **kwargs})


def test_finished_cells_are_skipped_on_rerun(tmp_path: Path, monkeypatch) -> None:
    fake = FakeTrain()
    monkeypatch.setattr(train_module, "train", fake)
    log: list[str] = []
    result = bm.run_benchmark(_config(tmp_path), argv=["benchmark"], log=log.append)
    assert sorted(fake.calls) == sorted(
        ["ppo__kl0__seed0", "ppo__kl0__seed1", "a2c__kl0__seed0", "a2c__kl0__seed1"]
    )
    assert not result.failures and len(result.cells) == 4
    done = json.loads((tmp_path / "runs" / "ppo__kl0__seed1" / "done.json").read_text())
    assert done["timesteps"] == 64 and done["run"] == "run" and done["seed"] == 1
    assert done["metrics"]["test"]["gold_success"] == pytest.approx(0.5)
    assert (tmp_path / "results.md").is_file()

    fake.calls.clear()
    result = bm.run_benchmark(_config(tmp_path), argv=["benchmark"], log=log.append)
    assert fake.calls == []
    assert len(result.cells) == 4 and sum("already done" in line for line in log) == 4

    (tmp_path / "runs" / "a2c__kl0__seed0" / "done.json").unlink()  # an interrupted cell
    bm.run_benchmark(_config(tmp_path), argv=["benchmark"], log=log.append)
    assert fake.calls == ["a2c__kl0__seed0"]


def test_failing_cell_is_reported_and_others_continue(tmp_path: Path, monkeypatch) -> None:
    fake = FakeTrain(fail={"a2c__kl0__seed1"})
    monkeypatch.setattr(train_module, "train", fake)
    log: list[str] = []
    result = bm.run_benchmark(_config(tmp_path), argv=["benchmark"], log=log.append)
    assert len(fake.calls) == 4 and len(result.cells) == 3
    assert result.failures == {
        "a2c__kl0__seed1": "RuntimeError: synthetic failure of a2c__kl0__seed1"
    }
    assert any("a2c__kl0__seed1: FAILED" in line for line in log)
    cell = tmp_path / "runs" / "a2c__kl0__seed1"
    assert not (cell / "done.json").exists() and "Traceback" in (cell / "error.txt").read_text()
    assert "a2c__kl0__seed1" in (tmp_path / "results.md").read_text()

    fake.fail.clear()
    fake.calls.clear()
    result = bm.run_benchmark(_config(tmp_path), argv=["benchmark"], log=log.append)
    assert fake.calls == ["a2c__kl0__seed1"] and not result.failures
    assert not (cell / "error.txt").exists()


def _ppo_yaml(path: Path, learning_rate: float) -> Path:
    """A copy of the shipped PPO entry with another learning rate."""
    from safety_rlhf.agents.algorithms import load_hyperparams

    entry = {**load_hyperparams("ppo", "SafetyRLHF-v0"), "learning_rate": learning_rate}
    path.write_text(yaml.safe_dump({"SafetyRLHF-v0": entry}))
    return path


def test_a_changed_cell_reruns_and_an_unchanged_one_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTrain()
    monkeypatch.setattr(train_module, "train", fake)
    yml = _ppo_yaml(tmp_path / "ppo.yml", 0.003)
    cfg = _config(tmp_path / "out", algos=["ppo"], seeds=1, configs={"ppo": str(yml)})
    log: list[str] = []
    bm.run_benchmark(cfg, argv=[], log=log.append)
    assert fake.calls == ["ppo__kl0__seed0"]
    done = json.loads((tmp_path / "out" / "runs" / "ppo__kl0__seed0" / "done.json").read_text())
    assert done["key"]["algo_kwargs"]["learning_rate"] == 0.003
    assert done["key"]["run"]["n_envs"] == 8 and done["key"]["train"]["timesteps"] == 64

    bm.run_benchmark(cfg, argv=[], log=log.append)  # nothing changed: reused
    assert fake.calls == ["ppo__kl0__seed0"] and "skip ppo__kl0__seed0" in log[-1]

    _ppo_yaml(yml, 0.001)  # the same file, another value
    log.clear()
    result = bm.run_benchmark(cfg, argv=[], log=log.append)
    assert fake.calls == ["ppo__kl0__seed0"] * 2
    assert any("rerun ppo__kl0__seed0" in line and "algo_kwargs.learning_rate" in line
               for line in log)  # fmt: skip
    (record,) = result.cells
    assert record["key"]["algo_kwargs"]["learning_rate"] == 0.001 and record["run"] == "run1"

    bm.run_benchmark(cfg, argv=[], log=log.append)
    assert len(fake.calls) == 2  # and now reused


@pytest.mark.parametrize(
    "change",
    [{"timesteps": 128}, {"hyperparams": {"learning_rate": 0.002}},
     {"env_kwargs": {"encoder": "hashing"}}, {"reward_model": "gold"}, {"eval_freq": 7}],
)  # fmt: skip
def test_finished_cells_of_other_command_settings_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]
) -> None:
    fake = FakeTrain()
    monkeypatch.setattr(train_module, "train", fake)
    bm.run_benchmark(_config(tmp_path, algos=["ppo"], seeds=1), argv=[], log=lambda _: None)
    name = next(iter(change))
    with pytest.raises(
        ValueError, match=rf"ppo__kl0__seed0 were made with other settings \(.*{name}"
    ):
        bm.run_benchmark(_config(tmp_path, algos=["ppo"], seeds=1, **change), argv=[])
    assert fake.calls == ["ppo__kl0__seed0"]


def test_a_changed_shipped_yaml_value_reruns_the_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTrain()
    monkeypatch.setattr(train_module, "train", fake)
    shipped = train_module.load_hyperparams("ppo", "SafetyRLHF-v0")
    cfg = _config(tmp_path, algos=["ppo"], seeds=1)
    bm.run_benchmark(cfg, argv=[], log=lambda _: None)
    bm.run_benchmark(cfg, argv=[], log=lambda _: None)
    assert fake.calls == ["ppo__kl0__seed0"]  # unchanged: reused
    edited = {**shipped, "n_epochs": shipped["n_epochs"] + 1}  # a release edits ppo.yml
    monkeypatch.setattr(train_module, "load_hyperparams", lambda *args: dict(edited))
    bm.run_benchmark(cfg, argv=[], log=lambda _: None)
    assert fake.calls == ["ppo__kl0__seed0"] * 2


def test_other_code_reruns_the_cell_and_tables_name_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTrain()
    monkeypatch.setattr(train_module, "train", fake)
    monkeypatch.setattr(bm_grid, "source_digest", lambda: "a" * 64)
    monkeypatch.setattr(bm_runner, "code_provenance", lambda: "0123456789ab")
    cfg = _config(tmp_path, algos=["ppo"], seeds=1)
    bm.run_benchmark(cfg, argv=[], log=lambda _: None)
    monkeypatch.setattr(bm_grid, "source_digest", lambda: "b" * 64)  # edited source
    monkeypatch.setattr(bm_runner, "code_provenance", lambda: "fedcba987654-dirty")
    log: list[str] = []
    bm.run_benchmark(cfg, argv=[], log=log.append)
    assert fake.calls == ["ppo__kl0__seed0"] * 2
    assert any("software.source_digest" in line for line in log)
    monkeypatch.setattr(bm_grid, "__version__", "99.0")  # another package version
    bm.run_benchmark(cfg, argv=[], log=log.append)
    assert len(fake.calls) == 3
    (row,) = csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text()))
    assert row["commit"] == "fedcba987654-dirty"
    assert "- `fedcba987654-dirty`: 1 cell(s)" in (tmp_path / "results.md").read_text()


def test_cost_limit_and_cost_model_axes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "train", FakeTrain())
    cfg = _config(tmp_path, algos=["ppo"], seeds=2, cost_limits=[None, 0.05])
    cells = bm.grid_cells(cfg)
    assert [c.name for c in cells] == [
        "ppo__kl0__seed0",
        "ppo__kl0__seed1",
        "ppo__kl0__cost0.05__seed0",
        "ppo__kl0__cost0.05__seed1",
    ]
    assert [c.train.cost_limit for c in cells] == [None, None, 0.05, 0.05]
    result = bm.run_benchmark(cfg, argv=[], log=lambda _: None)
    assert [g.label for g in result.aggregate.groups] == [
        "ppo unconstrained",
        "ppo cost<=0.05",
    ]
    md = (tmp_path / "results.md").read_text()
    assert "| algo | kl_coef | cost | seeds |" in md and "| ppo | 0 | cost<=0.05 | 2 |" in md
    rows = list(csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text())))
    assert [r["cost_limit"] for r in rows] == ["", "", "0.05", "0.05"]

    models = _config(tmp_path / "m", algos=["ppo"], seeds=1, cost_limits=[None, 0.05],
                     cost_models=["learned-cost", "gold"])  # fmt: skip
    if "cost_model" not in {f.name for f in dataclasses.fields(train_module.TrainConfig)}:
        with pytest.raises(ValueError, match="no cost_model setting"):
            bm.run_benchmark(models, argv=[])
        return
    cells = bm.grid_cells(models)  # the cost model varies only where a cost limit is set
    assert [c.name for c in cells] == [
        "ppo__kl0__seed0",
        "ppo__kl0__cost0.05-learned-cost__seed0",
        "ppo__kl0__cost0.05-gold__seed0",
    ]
    assert [c.train.cost_model for c in cells[1:]] == ["learned-cost", "gold"]
    result = bm.run_benchmark(models, argv=[], log=lambda _: None)
    labels = [g.label for g in result.aggregate.groups]
    assert labels[2] == "ppo cost<=0.05 gold (oracle)"


def test_bad_config_is_refused_before_running(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        bm.run_benchmark(_config(tmp_path, algos=["nope"]), argv=[])
    assert not (tmp_path / "runs").exists()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safety-rlhf")
    bm.add_benchmark_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_parses_grid_and_exits_non_zero_on_failure(tmp_path: Path, monkeypatch, capsys) -> None:
    parser = _parser()
    defaults = parser.parse_args(["benchmark"])
    assert defaults.algos == ["ppo", "trpo", "a2c", "dqn"] and defaults.kl_coefs == [0.0]
    assert defaults.seeds == 5 and defaults.jobs is None
    assert defaults.out == "experiments/results/benchmark"
    argv = ["benchmark", "--algos", "PPO", "--seeds", "2", "--timesteps", "64",
            "--reward-model", "rule", "--kl-coefs", "0,0.1", "--jobs", "1",
            "--out", str(tmp_path), "--eval-freq", "8", "--reps", "50"]  # fmt: skip
    args = parser.parse_args(argv)
    assert args.algos == ["ppo"] and args.kl_coefs == [0.0, 0.1] and args.eval_freq == 8
    args.argv = argv
    fake = FakeTrain(fail={"ppo__kl0.1__seed1"})
    monkeypatch.setattr(train_module, "train", fake)
    assert args.func(args) == 1
    out, err = capsys.readouterr()
    assert "| ppo | 0.1 | 1 |" in out and "| ppo | 0 | 2 |" in out
    assert "1 cell(s) failed" in err and "ppo__kl0.1__seed1" in err
    md = (tmp_path / "results.md").read_text()
    assert "safety-rlhf benchmark --algos PPO --seeds 2" in md
    with pytest.raises(SystemExit):
        parser.parse_args(["benchmark", "--kl-coefs", "0,-1"])


# ---------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_real_benchmark_end_to_end(tmp_path: Path) -> None:
    cfg = bm.BenchmarkConfig(
        algos=["ppo", "a2c"],
        seeds=2,
        timesteps=512,
        reward_model="rule",
        jobs=2,
        out=str(tmp_path),
        eval_freq=128,
        reps=200,
    )
    result = bm.run_benchmark(cfg, argv=["benchmark"], log=lambda _: None)
    assert not result.failures and len(result.cells) == 4
    for name in ("results.csv", "results.md", "curves.png", "intervals.png", "profiles.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    rows = list(csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text())))
    assert sorted((r["algo"], r["seed"], r["timesteps"]) for r in rows) == [
        ("a2c", "0", "512"),
        ("a2c", "1", "512"),
        ("ppo", "0", "512"),
        ("ppo", "1", "512"),
    ]
    for record in result.cells:
        cell = tmp_path / "runs" / record["cell"]
        assert (cell / "done.json").is_file()
        curves = bm.read_curves(cell / record["run"])
        steps, values = curves["safety/test/gold_success"]
        # PPO (8 envs x 64 steps) dumps its logs once per 512-step rollout: one point here
        assert len(steps) >= 1 and steps[-1] >= 512
        assert values[-1] == pytest.approx(record["metrics"]["test"]["gold_success"])


def test_cli_config_change_reruns_and_bad_input_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    fake = FakeTrain()
    monkeypatch.setattr(train_module, "train", fake)
    yml = _ppo_yaml(tmp_path / "ppo.yml", 0.003)
    argv = ["benchmark", "--algos", "ppo", "--seeds", "1", "--timesteps", "64", "--jobs", "1",
            "--reward-model", "rule", "--reps", "20", "--out", str(tmp_path / "out"),
            "--config", f"ppo:{yml}"]  # fmt: skip
    assert main(argv) == 0
    assert main(argv) == 0
    assert fake.calls == ["ppo__kl0__seed0"]
    _ppo_yaml(yml, 0.001)
    assert main(argv) == 0
    assert fake.calls == ["ppo__kl0__seed0"] * 2
    capsys.readouterr()

    bad = [
        (["--config", f"a2c:{yml}"], "configs: YAML files given for algorithm(s) ['a2c']"),
        (["--hyperparams", "learning_rat:1"], "hyperparams: unknown key(s) ['learning_rat']"),
        (["--hyperparams", "n_steps"], "--hyperparams: expected KEY:VALUE"),
        (["--env-kwargs", "obs_dims:3"], "env_kwargs: unknown key(s) ['obs_dims']"),
        (["--cost-models", "gold"], "cost models vary only constrained cells"),
    ]
    for flags, message in bad:
        out = tmp_path / "bad"
        assert main([*argv[:-4], "--out", str(out), *flags]) == 2, flags
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("safety-rlhf benchmark: error: ") and message in line, line
        assert not out.exists()
    assert len(fake.calls) == 2
