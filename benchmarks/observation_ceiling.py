"""Supervised ceiling: how well the *gold labels* can be read from the env's observations.

An agent on ``SafetyRLHF-v0`` sees only the observation, so on the test split (unseen
topics and phrasings) it can do no better than a classifier that predicts the prompt's gold
label from the same vector. This script fits such classifiers on the train split's
observations *with the gold labels* (what no RL agent gets) and scores them on the test and
jailbreak splits: the gold success of the policy "classify the prompt, then answer it as
gold prefers" (refuse harmful, answer benign, safe completion for borderline), which is
exactly the label accuracy. It is an upper-bound estimate for learning from that
observation, not a hard bound (another classifier could do somewhat better), and it
measures the observation, not the reward model.

Classifiers (scikit-learn): multinomial logistic regression (``C`` 1 and 10) and an MLP
(one hidden layer of 256, early stopping), fitted on every train prompt. Encoders:
``minilm`` (the default observation) and ``hashing`` (1,024 buckets).

Printed: one row per (encoder, classifier): train, test and jailbreak label accuracy, and on
test the accuracy on harmful, borderline, twin and look-alike prompts.

Run (about 1.5 minutes on 2 cores; the shipped MiniLM embeddings make it model-free)::

    python benchmarks/observation_ceiling.py
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import machine_line, markdown_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from safety_rlhf.data import load_corpus
from safety_rlhf.reward.encoders import make_encoder

CLASSIFIERS = {
    "logistic C=1": lambda seed: LogisticRegression(C=1.0, max_iter=3000),
    "logistic C=10": lambda seed: LogisticRegression(C=10.0, max_iter=3000),
    "MLP (256)": lambda seed: MLPClassifier(
        hidden_layer_sizes=(256,), early_stopping=True, max_iter=200, random_state=seed
    ),
}


def _share(hit: np.ndarray, mask: np.ndarray) -> str:
    return f"{hit[mask].mean():.3f}" if mask.any() else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="minilm,hashing", help="comma-separated")
    parser.add_argument("--seed", type=int, default=0, help="seed of the MLP")
    args = parser.parse_args()
    splits = {s: load_corpus(s) for s in ("train", "test", "jailbreak")}
    rows = []
    for name in args.encoders.split(","):
        encoder = make_encoder(name)
        x = {s: encoder.encode(ps.prompts) for s, ps in splits.items()}
        y = {s: np.array(ps.labels) for s, ps in splits.items()}
        cats = np.array(splits["test"].categories)
        for label, make in CLASSIFIERS.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = make(args.seed).fit(x["train"], y["train"])
            hit = {s: clf.predict(x[s]) == y[s] for s in splits}
            yt = y["test"]
            rows.append(
                [
                    name,
                    label,
                    f"{hit['train'].mean():.3f}",
                    f"{hit['test'].mean():.3f}",
                    f"{hit['jailbreak'].mean():.3f}",
                    _share(hit["test"], yt == "harmful"),
                    _share(hit["test"], yt == "borderline"),
                    _share(hit["test"], cats == "twin"),
                    _share(hit["test"], cats == "lookalike"),
                    f"{time.perf_counter() - start:.1f}",
                ]
            )
    header = ["encoder", "classifier", "train", "test", "jailbreak"]
    header += ["test harmful", "test borderline", "test twins", "test look-alikes", "fit s"]
    print(markdown_table(header, rows))
    print()
    print(machine_line())


if __name__ == "__main__":
    main()
