"""``hf``: a sequence-classification reward model from a local Hugging Face checkpoint.

Any ``AutoModelForSequenceClassification`` checkpoint with one output (a scalar reward head,
as most published reward models have) or two (a good/bad classifier) can score pairs::

    make_reward_model("hf:/models/my-reward-model")

Nothing is ever downloaded: the directory must already hold the model and its tokenizer
(``save_pretrained`` output, or a hub snapshot copied to disk), and it is loaded with
``local_files_only=True`` and ``trust_remote_code=False``. Needs the ``hf`` extra
(``pip install "safety-rlhf-gym[hf]"``); :mod:`transformers` is imported only when a
model is built.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safety_rlhf.reward.base import RewardModel, RewardModelError
from safety_rlhf.reward.registry import register_reward_model

__all__ = ["PLAIN_FORMAT", "HFRewardModel"]

#: How a pair is written when the tokenizer has no chat template.
PLAIN_FORMAT = "User: {prompt}\nAssistant: {response}"

_OUTPUTS = ("auto", "logit0", "diff")
_INSTALL_HINT = 'pip install "safety-rlhf-gym[hf]"'
#: Files whose size and modification time key caches along with the config's hash.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@register_reward_model("hf")
class HFRewardModel(RewardModel):
    """Scores pairs with a local ``AutoModelForSequenceClassification`` checkpoint.

    Each pair is written as a two-turn chat. If the tokenizer has a ``chat_template``, the
    text is ``tokenizer.apply_chat_template([{"role": "user", "content": prompt},
    {"role": "assistant", "content": response}], tokenize=False)``, tokenized without
    adding special tokens again (the template writes them). Otherwise it is
    :data:`PLAIN_FORMAT`, ``"User: {prompt}\\nAssistant: {response}"``, tokenized with the
    tokenizer's usual special tokens. Texts are padded per batch and truncated to
    ``max_length`` tokens (the end of a long response is cut).

    The score of a pair is read from the logits: with ``output="auto"``, the single logit
    when the model has one label, or ``logit[1] - logit[0]`` when it has two (label 1 taken
    as "good"). ``"logit0"`` forces the first logit, ``"diff"`` the difference.

    :param path: directory holding the model (``config.json`` and weights) and tokenizer.
    :param batch_size: pairs per forward pass (default 32).
    :param max_length: truncation length in tokens (default 512; lowered to the tokenizer's
        ``model_max_length`` when that is smaller).
    :param device: torch device to run on (default ``"cpu"``).
    :param output: which logits make the score: ``"auto"``, ``"logit0"`` or ``"diff"``
        (default ``"auto"``).
    :raises RewardModelError: if the path is missing or holds no ``config.json``,
        transformers is not installed, the checkpoint cannot be loaded, or its number of
        labels does not fit ``output``.
    """

    argument_is_path = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        batch_size: int = 32,
        max_length: int = 512,
        device: str = "cpu",
        output: str = "auto",
    ) -> None:
        if str(path).strip() == "":
            raise RewardModelError(
                "reward model 'hf' needs a model directory, e.g. 'hf:/models/my-rm'"
            )
        resolved = Path(path).expanduser().resolve()
        if not resolved.is_dir():
            raise RewardModelError(f"reward model 'hf': no model directory at {str(path)!r}")
        if not (resolved / "config.json").is_file():
            raise RewardModelError(
                f"reward model 'hf': {str(path)!r} has no config.json; expected a folder "
                "written by save_pretrained (model and tokenizer)"
            )
        if int(batch_size) < 1:
            raise RewardModelError(f"reward model 'hf': batch_size must be >= 1, got {batch_size}")
        if int(max_length) < 1:
            raise RewardModelError(f"reward model 'hf': max_length must be >= 1, got {max_length}")
        if output not in _OUTPUTS:
            raise RewardModelError(
                f"reward model 'hf': output must be one of {', '.join(_OUTPUTS)}; got {output!r}"
            )
        torch, transformers = _import_backend()
        self.path = resolved
        self.batch_size = int(batch_size)
        self.device = device
        load_kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(resolved), **load_kwargs
            )
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(
                str(resolved), **load_kwargs
            )
        except Exception as exc:
            raise RewardModelError(
                f"reward model 'hf': cannot load a sequence-classification model and "
                f"tokenizer from {str(resolved)!r}: {type(exc).__name__}: {exc}"
            ) from exc
        self.model.to(device)
        self.model.eval()
        self._torch = torch

        num_labels = int(self.model.config.num_labels)
        if output == "auto":
            if num_labels not in (1, 2):
                raise RewardModelError(
                    f"reward model 'hf': {str(resolved)!r} has {num_labels} labels; a reward "
                    "model needs 1 (scalar reward) or 2 (bad/good), or pass output='logit0'"
                )
            output = "logit0" if num_labels == 1 else "diff"
        if output == "diff" and num_labels != 2:
            raise RewardModelError(
                f"reward model 'hf': output='diff' needs 2 labels; {str(resolved)!r} has "
                f"{num_labels}"
            )
        self.output = output

        if self.tokenizer.pad_token is None:
            # Decoder reward models often ship without a pad token; any token works as
            # padding since the attention mask hides it.
            if self.tokenizer.eos_token is None:
                raise RewardModelError(
                    f"reward model 'hf': the tokenizer in {str(resolved)!r} has neither a pad "
                    "nor an eos token, so pairs cannot be batched"
                )
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if getattr(self.model.config, "pad_token_id", None) is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id

        model_max = getattr(self.tokenizer, "model_max_length", None)
        self.max_length = int(max_length)
        if isinstance(model_max, int) and 0 < model_max < self.max_length:
            self.max_length = model_max
        self.chat_template: str | None = getattr(self.tokenizer, "chat_template", None) or None
        self._identity = self._make_identity()

    def format_pairs(self, prompts: Sequence[str], responses: Sequence[str]) -> list[str]:
        """The texts the model reads, one per pair (chat template or :data:`PLAIN_FORMAT`)."""
        if self.chat_template is None:
            return [
                PLAIN_FORMAT.format(prompt=p, response=r)
                for p, r in zip(prompts, responses, strict=True)
            ]
        return [
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                tokenize=False,
            )
            for p, r in zip(prompts, responses, strict=True)
        ]

    def _score(self, prompts: list[str], responses: list[str], **columns: Any) -> np.ndarray:
        texts = self.format_pairs(prompts, responses)
        scores = np.empty(len(texts), dtype=np.float32)
        torch = self._torch
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    add_special_tokens=self.chat_template is None,
                    return_tensors="pt",
                )
                batch = {k: v.to(self.device) for k, v in batch.items()}
                logits = self.model(**batch).logits.float()
                diff = self.output == "diff"
                values = logits[:, 1] - logits[:, 0] if diff else logits[:, 0]
                scores[start : start + len(values)] = values.cpu().numpy()
        return scores

    def _make_identity(self) -> str:
        config_json = json.dumps(self.model.config.to_dict(), sort_keys=True, default=str)
        config_hash = hashlib.sha256(config_json.encode("utf-8")).hexdigest()[:16]
        files = hashlib.sha256()
        for file in sorted(self.path.iterdir()):
            if file.is_file():
                stat = file.stat()
                files.update(f"{file.name}\0{stat.st_size}\0".encode())
                if file.suffix in _WEIGHT_SUFFIXES:
                    files.update(f"{stat.st_mtime_ns}\0".encode())
        files.update((self.chat_template or "").encode("utf-8"))
        return (
            f"hf(path={str(self.path)!r}, config_sha256={config_hash}, "
            f"files={files.hexdigest()[:16]}, output={self.output}, max_length={self.max_length})"
        )

    @property
    def identity(self) -> str:
        """Resolved path, hash of the model config, weight-file sizes/times and settings."""
        return self._identity

    def __repr__(self) -> str:
        return f"HFRewardModel({str(self.path)!r})"


def _import_backend() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise RewardModelError(
            f"reward model 'hf' needs torch and transformers ({exc}); install them with "
            f"{_INSTALL_HINT}"
        ) from exc
    return torch, transformers
