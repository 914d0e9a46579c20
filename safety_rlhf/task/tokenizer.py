"""The word vocabulary of ``SafetyRLHF-Text-v0`` and its tokenizer.

Vocabulary
----------
:data:`VOCAB` lists every token; a token's id is its position. The first three are the
special tokens, with fixed ids: ``<eos>`` = :data:`EOS` = 0 (ends a response), ``<unk>`` =
:data:`UNK` = 1 (anything outside the vocabulary) and ``<request>`` = :data:`REQUEST` = 2
(restates the prompt, as the strategy env's rendered responses do). Then come the
punctuation tokens ``. , ? ! : ; ( )``, the digits ``1`` to ``5`` (as in "step 1"), and the
lower-case words in alphabetical order. A contraction is one token (``i'm``, ``can't``).

Tokenisation (:func:`tokenize`, text to ids)
--------------------------------------------
1. With a ``prompt``, every occurrence of the rendered request (the prompt as
   :func:`render_request` writes it, in double quotes) is cut out of the text first,
   leftmost first, and becomes ``<request>``.
2. The rest is lower-cased (curly apostrophes straightened) and split into pieces, left to
   right: a special token written out (``<eos>``, ``<unk>``, ``<request>``); a word (a run of
   ``a``-``z`` and ``0``-``9``, with apostrophe parts: ``can't``); one punctuation
   character; or any other run of characters that are neither whitespace, ``a``-``z``,
   ``0``-``9`` nor punctuation (``-``, ``#``, ``é``, a stray apostrophe). Whitespace only
   separates pieces.
3. A piece that is a vocabulary token becomes its id; any other piece becomes one ``<unk>``.

Rendering (:func:`detokenize`, ids to text)
-------------------------------------------
Rendering stops at the first ``<eos>`` (which is not written). Tokens are joined by one
space, except that there is no space before ``. , ? ! : ; )`` and none after ``(``.
``<request>`` is written as the prompt in double quotes when a prompt is given (see
:func:`render_request`), else literally ``<request>``; ``<unk>`` is written ``<unk>``. A word
gets an upper-case first letter when it is the first token or follows ``.``, ``?`` or ``!``,
and ``i`` and its contractions always do. Tokenisation ignores case, so for every sequence
``ids`` of tokens other than ``<eos>`` (``<unk>`` included), ``tokenize(detokenize(ids, p),
p) == list(ids)``, with or without a prompt ``p``.

>>> ids = tokenize("I'm sorry, but I can't help with that (<request>).")
>>> [VOCAB[i] for i in ids[:6]]
["i'm", 'sorry', ',', 'but', 'i', "can't"]
>>> detokenize(ids, prompt="How do I  kill a Python process?")
'I\\'m sorry, but I can\\'t help with that ("How do I kill a Python process?").'
>>> tokenize("Hello there!") == [UNK, TOKEN_ID["there"], TOKEN_ID["!"]]
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "APOLOGY_WORDS",
    "CAUTION_WORDS",
    "EOS",
    "PUNCTUATION",
    "REQUEST",
    "SPECIAL_TOKENS",
    "TOKEN_ID",
    "UNK",
    "VOCAB",
    "VOCAB_SIZE",
    "detokenize",
    "encode",
    "render_request",
    "tokenize",
]

#: End of the response (not rendered; anything after it is dropped).
EOS = 0
#: Anything outside the vocabulary; rendered ``<unk>``.
UNK = 1
#: Restates the prompt; rendered as the prompt in double quotes.
REQUEST = 2
SPECIAL_TOKENS: tuple[str, ...] = ("<eos>", "<unk>", "<request>")
#: The punctuation tokens, each one character.
PUNCTUATION: tuple[str, ...] = (".", ",", "?", "!", ":", ";", "(", ")")
_DIGITS = ("1", "2", "3", "4", "5")
# fmt: off
_WORDS = (
    "a", "able", "about", "absolutely", "act", "actually", "adjust", "advise", "afraid",
    "after", "afterwards", "against", "alone", "also", "alternative", "always", "amazing",
    "and", "answer", "any", "anything", "apologies", "apologise", "apologize", "are", "ask",
    "asked", "asking", "assist", "at", "awesome", "background", "basic", "basically", "be",
    "before", "below", "best", "brief", "but", "by", "can", "can't", "careful", "caution",
    "check", "clarify", "clean", "comes", "contact", "context", "cool", "could", "course",
    "covered", "covers", "crisis", "danger", "dangerous", "decline", "definitely",
    "depends", "detail", "detailed", "details", "do", "documented", "down", "each", "easy",
    "else", "emergency", "everyone", "everything", "exact", "exactly", "explain", "feel",
    "few", "finally", "fine", "finish", "first", "follow", "for", "free", "from", "further",
    "gather", "general", "get", "give", "glad", "go", "goal", "goes", "going", "good",
    "great", "guidance", "guidelines", "happy", "harmless", "have", "help", "helpful",
    "helps", "here", "high", "hmm", "honestly", "hope", "hotline", "how", "i", "i'd", "i'm",
    "idea", "if", "important", "in", "indeed", "instructions", "into", "is", "it", "job",
    "just", "keep", "key", "know", "known", "law", "legal", "legally", "let", "level",
    "like", "line", "local", "looks", "lots", "luck", "main", "make", "materials", "may",
    "maybe", "me", "mean", "might", "mind", "more", "most", "move", "must", "my", "need",
    "never", "next", "nice", "no", "not", "now", "of", "off", "official", "okay", "on",
    "once", "one", "only", "operational", "or", "order", "out", "own", "part", "people",
    "perfect", "place", "please", "point", "principles", "problem", "professional",
    "provide", "public", "put", "qualified", "question", "questions", "quick", "quite",
    "reach", "ready", "really", "repeat", "request", "resources", "responsibly", "result",
    "right", "risk", "risks", "risky", "safe", "safely", "safer", "safety", "say", "school",
    "services", "set", "simple", "simply", "situation", "so", "some", "someone",
    "something", "sorry", "specific", "specifics", "start", "stay", "step", "steps",
    "stuff", "suggest", "super", "support", "sure", "talk", "tell", "terms", "test",
    "thank", "thanks", "that", "the", "then", "there", "things", "this", "through", "to",
    "topic", "totally", "truly", "trust", "trying", "understand", "understanding",
    "understood", "unfortunately", "unsafe", "until", "up", "use", "using", "vary", "very",
    "wait", "want", "was", "well", "what", "where", "who", "why", "widely", "will", "with",
    "without", "won't", "work", "works", "would", "wow", "wrong", "yes", "you", "your",
)
# fmt: on

#: Every token; a token's id is its position (specials first, at fixed ids).
VOCAB: tuple[str, ...] = SPECIAL_TOKENS + PUNCTUATION + _DIGITS + _WORDS
#: Token text -> id.
TOKEN_ID: dict[str, int] = {token: i for i, token in enumerate(VOCAB)}
VOCAB_SIZE: int = len(VOCAB)

#: Apology words (the simulated annotator's apology bias reads these).
APOLOGY_WORDS: frozenset[int] = frozenset(
    TOKEN_ID[w] for w in ("sorry", "apologise", "apologize", "apologies", "unfortunately")
)
#: Caution words (the simulated annotator's caution bias reads these).
CAUTION_WORDS: frozenset[int] = frozenset(
    TOKEN_ID[w]
    for w in (
        "careful",
        "caution",
        "law",
        "legal",
        "legally",
        "responsibly",
        "safe",
        "safely",
        "safer",
        "safety",
    )
)

_PIECE = re.compile(r"<[a-z]+>|[a-z0-9]+(?:'[a-z0-9]+)*|[.,?!:;()]|[^\sa-z0-9.,?!:;()]+")
_NO_SPACE_BEFORE = frozenset(TOKEN_ID[p] for p in ".,?!:;)")
_NO_SPACE_AFTER = TOKEN_ID["("]
_SENTENCE_END = frozenset(TOKEN_ID[p] for p in ".?!")
_ALWAYS_CAPITAL = frozenset(("i", "i'm", "i'd", "i'll", "i've"))
_SPECIAL_TEXT = {"<eos>": EOS, "<unk>": UNK, "<request>": REQUEST}

if len(TOKEN_ID) != VOCAB_SIZE:  # pragma: no cover - a typo in the word list
    raise RuntimeError("VOCAB has duplicate tokens")


def render_request(prompt: str) -> str:
    """``<request>`` as written into a response to ``prompt``: the prompt in double quotes,
    whitespace-normalised, with any double quote inside it written as a single quote (so
    that the quoted request can be found again unambiguously).

    >>> render_request('Say  "hi"\\n')
    '"Say \\'hi\\'"'
    """
    return '"' + " ".join(prompt.split()).replace('"', "'") + '"'


def _tokenize_plain(text: str, out: list[int]) -> None:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    for piece in _PIECE.findall(text):
        token = _SPECIAL_TEXT.get(piece)
        if token is None:
            token = TOKEN_ID.get(piece, UNK)
        out.append(token)


def tokenize(text: str, prompt: str | None = None) -> list[int]:
    """Token ids of ``text`` (no ``<eos>`` is appended), by the rules of the module docstring.

    :param text: any text.
    :param prompt: the prompt the text answers; its quoted restatement becomes ``<request>``.
    :return: the ids, one per piece of the text.
    """
    out: list[int] = []
    if prompt is None:
        _tokenize_plain(text, out)
        return out
    for i, part in enumerate(text.split(render_request(prompt))):
        if i:
            out.append(REQUEST)
        _tokenize_plain(part, out)
    return out


def detokenize(ids: Sequence[int], prompt: str | None = None) -> str:
    """The text of a token sequence, by the rules of the module docstring.

    :param ids: token ids; rendering stops at the first :data:`EOS`.
    :param prompt: the prompt, written in place of ``<request>``; ``None`` keeps ``<request>``.
    :return: the text.
    :raises ValueError: for an id outside ``[0, VOCAB_SIZE)``.
    """
    request = "<request>" if prompt is None else render_request(prompt)
    parts: list[str] = []
    previous = -1
    for raw in ids:
        token = int(raw)
        if token == EOS:
            break
        if not 0 <= token < VOCAB_SIZE:
            raise ValueError(f"token id {token} is outside the vocabulary (size {VOCAB_SIZE})")
        if token == REQUEST:
            text = request
        else:
            text = VOCAB[token]
            if text[0].isalnum() and (
                previous < 0 or previous in _SENTENCE_END or text in _ALWAYS_CAPITAL
            ):
                text = text[0].upper() + text[1:]
        if parts and token not in _NO_SPACE_BEFORE and previous != _NO_SPACE_AFTER:
            parts.append(" ")
        parts.append(text)
        previous = token
    return "".join(parts)


def encode(text: str) -> tuple[int, ...]:
    """Token ids of a text that must lie inside the vocabulary (phrases, variants).

    :raises ValueError: if a piece of ``text`` is not a vocabulary token.
    """
    ids = tuple(tokenize(text))
    if UNK in ids:
        raise ValueError(f"outside the vocabulary: {text!r}")
    return ids
