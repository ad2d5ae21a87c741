"""The semantic classifier: a packaged static embedding model and softmax heads trained on examples.

Offline and on the CPU: message embeddings come from ``wordllama`` (MIT; 256-dimension static token
embeddings shipped inside the wheel; about 0.1 ms a short message), concatenated with the keyword
classifier's signals (:func:`.classifier.keyword_features`). Two softmax heads (category and
complexity, multinomial logistic regression with L2, numpy only) are trained on the labelled
examples: the train split of ``fixtures/router_eval/prompts.jsonl`` plus the editors' own ("teach
the router"). Training takes a fraction of a second and happens when the examples change.

The rest of a classification (vision, image generation, long context, high stakes, follow-up)
stays with the keyword rules; this module changes the category, complexity, confidence and the
difficulty derived from them. No Django or ORM here: the caller passes the examples in.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .classifier import (
    COMPLEXITY_LEVEL,
    DEFAULT_MAX_CLASSIFIED_CHARS,
    Shape,
    classify,
    difficulty_of,
    keyword_features,
    sampled,
    shape_of,
)
from .types import CATEGORIES, COMPLEXITIES, Classification, RouterSettings

logger = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> (n, d) float32, rows of length 1

# Training: full-batch gradient descent on standardized features; fixed, so training is deterministic.
L2 = 1e-3
STEPS = 400
LEARNING_RATE = 0.5
# A secondary category is named when the head gives it at least this probability.
SECONDARY_MIN_PROBABILITY = 0.2
EMBEDDING_CHARS = 2_000  # the head and tail of a long message carry its topic


@dataclass(frozen=True)
class SoftmaxHead:
    """Multinomial logistic regression over standardized features."""

    labels: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (features + 1, labels): the last row is the bias

    @classmethod
    def fit(cls, features: np.ndarray, targets: Sequence[str], labels: Sequence[str]) -> SoftmaxHead:
        labels = tuple(labels)
        index = {label: i for i, label in enumerate(labels)}
        y = np.zeros((len(targets), len(labels)))
        y[np.arange(len(targets)), [index[target] for target in targets]] = 1.0
        mean = features.mean(axis=0)
        scale = features.std(axis=0) + 1e-6
        x = np.hstack([(features - mean) / scale, np.ones((len(features), 1))])
        weights = np.zeros((x.shape[1], len(labels)))
        for _ in range(STEPS):
            probabilities = _softmax(x @ weights)
            gradient = x.T @ (probabilities - y) / len(x) + L2 * np.vstack(
                [weights[:-1], np.zeros((1, len(labels)))]
            )
            weights -= LEARNING_RATE * gradient
        return cls(labels, mean, scale, weights)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        x = np.append((features - self.mean) / self.scale, 1.0)
        return _softmax(x @ self.weights)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Example:
    text: str
    category: str
    complexity: str = ""  # "" when not labelled


@dataclass(frozen=True)
class SemanticModel:
    embed: Embed
    category: SoftmaxHead
    complexity: SoftmaxHead | None
    examples: int

    def features(self, texts: Sequence[str], shapes: Sequence[Shape] | None = None) -> np.ndarray:
        """Embedding and keyword signals per text (``shapes``: their :func:`.classifier.shape_of`)."""
        shapes = shapes if shapes is not None else [shape_of(text) for text in texts]
        # The tokenizer takes valid UTF-8 only: a lone surrogate (any Python str is a message) becomes "?".
        clean = [sampled(text, EMBEDDING_CHARS).encode("utf-8", "replace").decode("utf-8") for text in texts]
        vectors = self.embed(clean)
        keywords = np.array([keyword_features(shape) for shape in shapes], dtype=np.float64)
        return np.hstack([vectors.astype(np.float64), keywords])


def train(examples: Sequence[Example], embed: Embed) -> SemanticModel:
    """Heads for the examples' categories and (over those labelled) complexities.

    ``ValueError`` if some category has no example: the head could never answer it."""
    missing = sorted(set(CATEGORIES) - {example.category for example in examples})
    if missing:
        raise ValueError(f"no example of {', '.join(missing)}")
    untrained = SemanticModel(embed, None, None, len(examples))  # type: ignore[arg-type]
    features = untrained.features([example.text for example in examples])
    category = SoftmaxHead.fit(features, [example.category for example in examples], CATEGORIES)
    rated = [i for i, example in enumerate(examples) if example.complexity]
    complexity = None
    if {examples[i].complexity for i in rated} == set(COMPLEXITIES):
        complexity = SoftmaxHead.fit(features[rated], [examples[i].complexity for i in rated], COMPLEXITIES)
    return SemanticModel(embed, category, complexity, len(examples))


def classify_semantic(
    message: str,
    *,
    model: SemanticModel,
    settings: RouterSettings,
    previous_model_id: str | None = None,
    has_attachments: bool = False,
    context_tokens: int = 0,
    max_chars: int = DEFAULT_MAX_CLASSIFIED_CHARS,
) -> Classification:
    """The keyword classification with the category, complexity, confidence and difficulty read
    from the trained heads. The message is scanned once for both (its :class:`.classifier.Shape`)."""
    text = sampled(message or "", max_chars)
    shape = shape_of(text)
    local = classify(
        message,
        settings=settings,
        previous_model_id=previous_model_id,
        has_attachments=has_attachments,
        context_tokens=context_tokens,
        max_chars=max_chars,
        shape=shape,
    )
    features = model.features([text], [shape])[0]
    category_p = model.category.probabilities(features)
    order = np.argsort(-category_p)
    primary = CATEGORIES[order[0]]
    secondary = CATEGORIES[order[1]] if category_p[order[1]] >= SECONDARY_MIN_PROBABILITY else None
    complexity, level = local.complexity, COMPLEXITY_LEVEL[local.complexity]
    if model.complexity is not None:
        complexity_p = model.complexity.probabilities(features)
        complexity = COMPLEXITIES[int(np.argmax(complexity_p))]
        level = float(
            sum(p * COMPLEXITY_LEVEL[name] for name, p in zip(COMPLEXITIES, complexity_p, strict=True))
        )
    if local.high_stakes and complexity == "simple":
        complexity = "moderate"  # a short medical or legal question is not small talk (as the rules say)
    difficulty = difficulty_of(
        complexity=complexity,
        level=level,
        words=shape.words,
        complex_hits=shape.complex_hits,
        needs_reasoning=local.needs_reasoning or primary == "reasoning",
        code=shape.code,
        primary=primary,
    )
    signals = [
        signal for signal in local.signals if not signal.startswith(("difficulty ", "no category keyword"))
    ]
    signals.append(
        f"semantic: {primary} {category_p[order[0]]:.2f}"
        + (f", {secondary} {category_p[order[1]]:.2f}" if secondary else "")
    )
    signals.append(f"difficulty {difficulty:.3f}")
    return dataclasses.replace(
        local,
        primary=primary,
        secondary=secondary,
        complexity=complexity,
        needs_reasoning=local.needs_reasoning or primary == "reasoning",
        difficulty=difficulty,
        confidence=round(float(category_p[order[0]]), 3),
        signals=tuple(signals),
    )


# --- the packaged embedding model -----------------------------------------------------------------

_load_lock = threading.Lock()
_embedder: Any = None
_load_error: str | None = None


def load_embedder() -> Embed | None:
    """wordllama's embedding, loaded once per process from the files inside its wheel (never the
    network); ``None``, logged once, if the package is missing or its files are unreadable."""
    global _embedder, _load_error
    with _load_lock:
        if _embedder is None and _load_error is None:
            try:
                _embedder = _load_wordllama()
            except Exception as exc:  # any failure means: classify with the keyword rules
                _load_error = f"{exc.__class__.__name__}: {exc}"
                logger.warning("autorouter: semantic classifier unavailable (%s); keyword rules", _load_error)
        return _embedder


def embedder_error() -> str | None:
    return _load_error


def _load_wordllama() -> Embed:
    root_logger = logging.getLogger()
    handlers = list(root_logger.handlers)
    import wordllama  # its import calls logging.basicConfig: undo that below

    root_logger.handlers[:] = handlers
    # load() looks for the tokenizer under the cache dir and would fetch from huggingface.co
    # otherwise; the wheel holds both, so point it there and forbid downloads. The exact version is
    # pinned in pyproject.toml: this depends on its file layout.
    model = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)

    def embed(texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(model.embed(list(texts), norm=False), dtype=np.float32)
        # Normalized here: an empty message's zero vector stays zero (wordllama's own norm gives NaN).
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    return embed
