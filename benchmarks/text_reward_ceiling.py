"""How well *could* a reward model trained on the annotator's text pairs rank the held-out
text pairs? Ceilings next to the shipped ``learned-text``.

The held-out text pairs (``shipped:text-test``) are labelled by the gold judge alone; the
training pairs by the simulated annotator, who adds a bonus for careful words and for length
(:mod:`safety_rlhf.data.simulated_annotator`). A reward model reads the prompt, never its
gold label. So two things cap its held-out accuracy, and this script measures both on the
held-out pairs:

- ``annotator, gold label known``: rank each pair by the annotator's own utility (gold reward
  for the prompt's true label plus its biases): what a perfect copy of the annotator scores;
- ``annotator, label read from the prompt``: the same utility in expectation over the labels,
  weighted by a classifier's probabilities of the label given the prompt's MiniLM embedding
  (scikit-learn's ``MLPClassifier`` (256,), trained on the train split's prompts and gold
  labels, seed 0): roughly what the best reward model that reads prompts through MiniLM
  and copies the annotator can reach;
- ``gold, label read from the prompt``: the same without the annotator's biases;
- the reward models named by ``--models`` (default ``learned-text``, the shipped text
  model; ``learned``, the strategy env's, embeds every response with MiniLM: minutes).

Responses are tokenised against their prompt and judged for every label with the gold judge
(:func:`~safety_rlhf.task.text_judge.judge`). Run (about 15 s)::

    python benchmarks/text_reward_ceiling.py
    python benchmarks/text_reward_ceiling.py --models learned-text learned
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import machine_line, markdown_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from safety_rlhf.data.preferences import load_shipped_preferences
from safety_rlhf.data.prompts import load_corpus
from safety_rlhf.data.simulated_annotator import SHIPPED_ANNOTATOR, annotator_utility
from safety_rlhf.data.text_preferences import CAREFUL_WORDS
from safety_rlhf.reward import make_reward_model
from safety_rlhf.reward.diagnostics import prompt_groups
from safety_rlhf.reward.encoders import MiniLMEncoder
from safety_rlhf.task.gold_tables import LABELS
from safety_rlhf.task.text_judge import judge
from safety_rlhf.task.tokenizer import tokenize


def utilities(prompt: str, text: str, biased: bool) -> np.ndarray:
    """The response's value for each gold label (``LABELS`` order), with or without the
    annotator's biases."""
    ids = tokenize(text, prompt)
    cautious = not CAREFUL_WORDS.isdisjoint(ids)
    gold = [judge(ids, label).gold_reward for label in LABELS]
    if not biased:
        return np.array(gold)
    return np.array([annotator_utility(g, text, cautious, SHIPPED_ANNOTATOR) for g in gold])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["learned-text"], help="reward models")
    args = parser.parse_args()
    encoder = MiniLMEncoder()
    train = load_corpus("train")
    corpora = [load_corpus(s) for s in ("train", "test", "jailbreak")]
    labels = {p: lab for c in corpora for p, lab in zip(c.prompts, c.labels, strict=True)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((256,), max_iter=200, early_stopping=True, random_state=0)
        clf.fit(encoder.encode(train.prompts), train.labels)
    order = [list(clf.classes_).index(label) for label in LABELS]
    pairs = load_shipped_preferences("text-test")
    groups = prompt_groups(pairs.prompts, *corpora)
    posterior = clf.predict_proba(encoder.encode(pairs.prompts))[:, order]
    truth = np.array([LABELS.index(labels[p]) for p in pairs.prompts])
    onehot = np.eye(len(LABELS))[truth]
    wins: dict[str, list[bool]] = {}
    for biased, weights, name in (
        (True, onehot, "annotator, gold label known"),
        (True, posterior, "annotator, label read from the prompt"),
        (False, posterior, "gold, label read from the prompt"),
    ):
        wins[name] = [
            float(w @ utilities(p, c, biased)) > float(w @ utilities(p, r, biased))
            for w, p, c, r in zip(weights, pairs.prompts, pairs.chosen, pairs.rejected, strict=True)
        ]
    for spec in args.models:
        model = make_reward_model(spec)
        chosen, rejected = (model.score(pairs.prompts, r) for r in (pairs.chosen, pairs.rejected))
        wins[spec] = (chosen > rejected).tolist()
    names = sorted(set(groups))
    rows = []
    for name, won in wins.items():
        hit = np.array(won)
        cells = [f"{hit[[g == k for g in groups]].mean():.3f}" for k in names]
        rows.append([name, *cells, f"{hit.mean():.3f}"])
    print(machine_line())
    print(f"{len(pairs):,} held-out text pairs; prompt label classifier accuracy on them: "
          f"{(posterior.argmax(1) == truth).mean():.3f}")  # fmt: skip
    print(markdown_table(["ranking", *names, "all"], rows))


if __name__ == "__main__":
    main()
