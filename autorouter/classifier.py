"""The local classifier: keyword and shape rules, no network, a few microseconds a message.

It reads the message (never stores it) and returns a :class:`Classification`:
primary and secondary category, complexity, whether vision, long context or
reasoning is needed, whether the message is high-stakes and in which domain,
and whether to keep the previous model. ``signals`` lists what matched so the
decision can say why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

from .types import CATEGORIES, Classification, RouterSettings

_TOKEN = re.compile(r"[a-z0-9+#][a-z0-9+#'_-]*")


class Text(NamedTuple):
    """A message as the keyword tables read it: lower-case words, and the words joined by single spaces."""

    words: list[str]
    joined: str  # " word word ... " (leading and trailing space, so " phrase " finds whole words)

    @classmethod
    def of(cls, message: str) -> Text:
        words = _TOKEN.findall(message.lower())
        return cls(words, " " + " ".join(words) + " ")


class Vocabulary:
    """Keyword lists of several labels, counted against a message's words in one pass.

    Each list is ``|``-separated: ``word`` matches that word, ``prefix*`` any
    word starting so, ``two words`` the phrase (``two word*``: any ending).
    """

    def __init__(self, table: Mapping[str, str]) -> None:
        self.labels = tuple(table)
        exact: dict[str, list[str]] = {}
        prefixes: dict[str, list[str]] = {}
        phrases: list[tuple[str, str]] = []
        for label, keywords in table.items():
            for keyword in keywords.split("|"):
                keyword = keyword.strip().lower()
                if " " in keyword:
                    needle = " " + (keyword[:-1] if keyword.endswith("*") else keyword + " ")
                    phrases.append((needle, label))
                elif keyword.endswith("*"):
                    prefixes.setdefault(keyword[:-1], []).append(label)
                else:
                    exact.setdefault(keyword, []).append(label)
        self.exact = {word: tuple(labels) for word, labels in exact.items()}
        self.prefixes = {prefix: tuple(labels) for prefix, labels in prefixes.items()}
        self.prefix_lengths = tuple(sorted({len(prefix) for prefix in prefixes}))
        self.phrases = tuple(phrases)

    def counts(self, text: Text) -> dict[str, int]:
        counts = dict.fromkeys(self.labels, 0)
        exact, prefixes, lengths = self.exact, self.prefixes, self.prefix_lengths
        for word in text.words:
            labels = exact.get(word)
            if labels:
                for label in labels:
                    counts[label] += 1
            for length in lengths:
                if length > len(word):
                    break
                labels = prefixes.get(word[:length])
                if labels:
                    for label in labels:
                        counts[label] += 1
        for needle, label in self.phrases:
            if needle in text.joined:
                counts[label] += text.joined.count(needle)
        return counts


# Category keywords. A hit counts 1; a message's primary category is the one with most hits.
CATEGORY_KEYWORDS: dict[str, str] = {
    "coding": (
        "code|coding|function|bug*|debug*|error|exception|stack trace|traceback|python|javascript|"
        "typescript|java|rust|golang|c++|sql|regex|api|compile*|refactor*|script|class|method|"
        "variable|unit test*|git|docker|kubernetes|endpoint|json|html|css|react|django|npm|pip|"
        "segfault"
    ),
    "reasoning": (
        "prove|proof|logic*|puzzle|riddle|deduce|math*|calculate|equation*|solve|probability|"
        "theorem|step by step|reason*|derive|integral|optimi*"
    ),
    "creative": (
        "story|stories|poem*|poetry|lyrics|song|fiction|creative|brainstorm|slogan|tagline|joke*|"
        "character*|plot|haiku|novel|screenplay|imagine|rewrite|tone"
    ),
    "factual": (
        "what is|what are|who is|who was|when did|when was|where is|define|definition|capital of|"
        "how many|fact*|meaning of|history of|explain"
    ),
    "analysis": (
        "analy*|compare|comparison|evaluate|pros and cons|trade-off*|tradeoff*|assess*|"
        "review|summari*|summary|critique|interpret|data|trend*|insight*|metrics|report"
    ),
    "conversation": (
        "hi|hello|hey|thanks|thank you|how are you|chat|good morning|good night|lol|bye|what's up|nice|cool"
    ),
    "multimodal": (
        "image*|picture*|photo*|screenshot*|diagram*|draw|drawing|illustrat*|render|logo|visual*|"
        "chart|sketch|paint*"
    ),
    "research": (
        "latest|news|today|current*|recent*|research|sources|cite|citation*|search the web|look up|"
        "find articles|paper*|study|studies|statistics|this week|this year|2025|2026"
    ),
}

# Domain keywords for the high-stakes check. A domain listed in the config but
# not here is still detected by its own name ("mental_health" → "mental health").
DOMAIN_KEYWORDS: dict[str, str] = {
    "medical": (
        "symptom*|diagnos*|medication*|medicine|dosage|dose|prescription|disease|cancer|pregnan*|"
        "surgery|chest pain|side effect*|treatment|doctor|illness|infection|overdose|allerg*|"
        "blood pressure|insulin"
    ),
    "legal": (
        "lawsuit|sue|contract|lawyer|attorney|legal*|court|custody|liability|copyright|eviction|"
        "tenant|will and testament|arrested|illegal"
    ),
    "financial": (
        "invest*|retirement|mortgage|loan*|debt|tax|taxes|bankruptcy|stock*|portfolio|401k|crypto*|"
        "pension|credit score|savings"
    ),
    "safety": (
        "poison*|explosive*|weapon*|gas leak|carbon monoxide|electrocut*|emergency|dangerous|"
        "is it safe|safe to|toxic|burn|choking"
    ),
    "mental_health": (
        "suicid*|self-harm|self harm|depressed|depression|anxiety|panic attack*|kill myself|therapy|"
        "therapist|ptsd|eating disorder|hopeless"
    ),
    "privacy": (
        "personal data|gdpr|doxx*|dox|password*|data leak|tracking me|surveillance|spyware|"
        "identity theft|ssn|social security number"
    ),
    "immigration": (
        "visa|green card|asylum|deport*|immigration|immigrant|citizenship|residence permit|"
        "work permit|refugee|uscis"
    ),
    "domestic_abuse": (
        "abuse|abusive|abuser|domestic violence|hits me|beats me|restraining order|unsafe at home|hurts me"
    ),
}

# Shape markers: what makes a message complex, need reasoning or a long context, or refer back.
MARKERS = Vocabulary(
    {
        "complex": (
            "step by step|in detail|detailed|comprehensive|architecture|design a|design an|prove|"
            "optimi*|trade-off*|tradeoff*|end-to-end|thorough*|in depth|in-depth|multi-step|scalable|"
            "production-ready|edge cases"
        ),
        "reasoning": (
            "prove|proof|step by step|logic*|puzzle|riddle|deduce|solve|calculate|derive|probability|"
            "theorem|equation*|why does|why is|reason through"
        ),
        "long_context": (
            "entire book|whole book|entire codebase|whole codebase|whole repository|full transcript|"
            "entire document|whole document|long document|all of these files|all these files|"
            "hundreds of pages"
        ),
        "back_reference": "it|that|this|above|previous|earlier|your answer|the last one",
    }
)
FOLLOW_UP_START = re.compile(
    r"^\s*(?:and|also|but|so|ok|okay|thanks|thank you|continue|go on|more|why|how come|what about|"
    r"how about|can you|could you|please|now|again|another|shorter|longer|make it|explain|elaborate|"
    r"same|yes|no|great|perfect)\b",
    re.IGNORECASE,
)
# Line-start patterns match spaces and tabs only: a "\s*" there would also run across every
# following blank line, from every line start (quadratic in the number of newlines).
CODE_FENCE = re.compile(r"```|^(?: {4}|\t)\S", re.MULTILINE)

# Asked to produce an image: "draw me a cat" (a drawing verb said to the assistant, before what
# to draw), or a making verb a few words before an image noun ("generate an image of ...").
# Understanding an attached image ("what is in this photo?") is vision, a different need.
_IMAGE_NOUNS = (
    r"(?:image|picture|photo|pic|illustration|logo|icon|drawing|painting|artwork|wallpaper|poster|"
    r"avatar|portrait|banner|meme|sticker|cartoon|render|mascot|storyboard|frame|"
    r"bild|bilder|immagine|immagini|imagen|imágenes|dessin)s?"
)
_TO_THE_ASSISTANT = r"(?:^|[.!?:]\s+|\b(?:can|could|would|will) you\s+|\bplease\s+|\byou to\s+)"
IMAGE_REQUEST = re.compile(
    _TO_THE_ASSISTANT + r"(?:draw|paint|sketch|illustrate)\s+(?:me\s+|us\s+)?(?:a|an|some|my|two|three)\b"
    r"|\b(?:generate|create|make|design|render|produce|recreate|give me|i need|erstelle|crea|"
    r"crée|créer|genera|dibuja)\b\W+(?:[\w'-]+\W+){0,8}?" + _IMAGE_NOUNS + r"\b|\btext[- ]to[- ]image\b",
    re.IGNORECASE | re.MULTILINE,
)


# Categories whose messages are harder for a weak model, whatever their length.
HARD_CATEGORIES = frozenset({"coding", "reasoning", "analysis", "research"})
COMPLEXITY_LEVEL = {"simple": 0.0, "moderate": 0.5, "complex": 1.0}


def difficulty_of(
    *,
    complexity: str,
    words: int,
    complex_hits: int,
    needs_reasoning: bool,
    code: bool,
    primary: str,
    level: float | None = None,
) -> float:
    """A message's difficulty from 0 to 1, from the classifier's signals (deterministic).

    ``0.45 * complexity level (simple 0, moderate 0.5, complex 1) + 0.2 * length (log of the words,
    full at 300) + 0.15 * complexity markers (full at 3) + 0.1 * needs reasoning + 0.05 * code +
    0.05 * a hard category (coding, reasoning, analysis, research)``, rounded to 3 places. The
    level keeps the order of the three labels; the rest orders the messages within one. ``level``
    replaces the label's level with an expected one (the semantic classifier's probabilities).
    """
    length = min(1.0, math.log1p(words) / math.log1p(300))
    score = (
        0.45 * (COMPLEXITY_LEVEL[complexity] if level is None else level)
        + 0.2 * length
        + 0.15 * min(1.0, complex_hits / 3)
        + 0.1 * needs_reasoning
        + 0.05 * code
        + 0.05 * (primary in HARD_CATEGORIES)
    )
    return round(min(1.0, max(0.0, score)), 3)


class Shape(NamedTuple):
    """What the keyword rules read in a message, computed once: the classifiers (the rules, the
    semantic one's features and difficulty) share it rather than scanning the message again."""

    tokens: Text
    counts: Mapping[str, int]  # keyword hits per category
    markers: Mapping[str, int]  # hits per shape marker (complex, reasoning, long context, back reference)
    words: int  # whitespace-separated words
    code: bool  # a code block or indented code
    listed: bool  # three or more numbered or bulleted items
    question: bool  # ends with a question mark

    @property
    def complex_hits(self) -> int:
        return self.markers["complex"] + (1 if self.listed else 0)


def shape_of(text: str) -> Shape:
    tokens = Text.of(text)
    return Shape(
        tokens=tokens,
        counts=CATEGORY_VOCABULARY.counts(tokens),
        markers=MARKERS.counts(tokens),
        words=len(text.split()),
        code=CODE_FENCE.search(text) is not None,
        listed=len(NUMBERED_ITEM.findall(text)) >= 3,
        question=text.rstrip().endswith("?"),
    )


def keyword_features(shape: Shape) -> list[float]:
    """The keyword rules' signals as numbers, for a learned classifier: each category's hits and
    each marker's (log-scaled), the length, a code block, a list, a question mark."""
    return [
        *(math.log1p(shape.counts[category]) for category in CATEGORIES),
        *(math.log1p(shape.markers[name]) for name in MARKERS.labels),
        min(1.0, math.log1p(len(shape.tokens.words)) / math.log1p(300)),
        float(shape.code),
        float(shape.listed),
        float(shape.question),
    ]


def asks_for_image(message: str) -> bool:
    """Whether the user asks for an image to be made (image generation, not vision)."""
    return IMAGE_REQUEST.search(message) is not None


NUMBERED_ITEM = re.compile(r"^[ \t]*(?:\d+[.)]|[-*])[ \t]+\S", re.MULTILINE)

# Longer messages are classified on their first and last halves of this many characters.
DEFAULT_MAX_CLASSIFIED_CHARS = 20_000

SIMPLE_MAX_WORDS = 12
COMPLEX_MIN_WORDS = 120
FOLLOW_UP_MAX_WORDS = 25
# A conversation using this share of the long-context threshold will need a long-context model.
LONG_CONTEXT_SHARE = 0.5
CHARS_PER_TOKEN = 4


def sampled(text: str, max_chars: int) -> str:
    """``text`` itself, or its head and tail when longer than ``max_chars``."""
    max_chars = max(max_chars, 2)  # a sample of nothing would be no bound at all
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + "\n" + text[len(text) - half :]


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters a token), enough for routing."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


CATEGORY_VOCABULARY = Vocabulary(CATEGORY_KEYWORDS)


@lru_cache(maxsize=16)
def domain_vocabulary(domains: tuple[str, ...]) -> Vocabulary:
    """The configured high-stakes domains' keywords; a domain without a list is found by its own name."""
    return Vocabulary({domain: DOMAIN_KEYWORDS.get(domain, domain.replace("_", " ")) for domain in domains})


def _best(counts: dict[str, int], order: Iterable[str]) -> list[str]:
    """Keys with a positive count, most hits first, ties in ``order``."""
    ranked = [key for key in order if counts.get(key, 0) > 0]
    return sorted(ranked, key=lambda key: -counts[key])


def classify(
    message: str,
    *,
    settings: RouterSettings,
    previous_model_id: str | None = None,
    has_attachments: bool = False,
    context_tokens: int = 0,
    max_chars: int = DEFAULT_MAX_CLASSIFIED_CHARS,
    shape: Shape | None = None,
) -> Classification:
    """Classify ``message`` with local rules. Deterministic: same inputs, same result.

    Linear in the message; a message longer than ``max_chars`` is judged by its
    head and tail (``max_chars`` in all), and its length still counts for context.
    ``shape``: :func:`shape_of` the classified text, if the caller has it already.
    """
    full = message or ""
    signals: list[str] = []
    text = sampled(full, max_chars)
    if len(text) < len(full):
        signals.append(f"long message: classified its first and last {max_chars // 2:,} characters")
    shape = shape if shape is not None else shape_of(text)
    words, tokens, markers = shape.words, shape.tokens, shape.markers
    counts = dict(shape.counts)
    if shape.code:
        counts["coding"] += 3
        signals.append("code block")
    if has_attachments:
        counts["multimodal"] += 2
        signals.append("attachment")
    ranked = _best(counts, CATEGORIES)
    primary = ranked[0] if ranked else "conversation"
    secondary = ranked[1] if len(ranked) > 1 else None
    if ranked:
        signals.append(f"{primary} x{counts[primary]}")
        if secondary:
            signals.append(f"{secondary} x{counts[secondary]}")
    else:
        signals.append("no category keyword: conversation")

    needs_reasoning = bool(markers["reasoning"]) or primary == "reasoning"

    complex_hits = shape.complex_hits
    if words >= COMPLEX_MIN_WORDS or (complex_hits and words > SIMPLE_MAX_WORDS) or complex_hits >= 2:
        complexity = "complex"
    elif words <= SIMPLE_MAX_WORDS and not complex_hits and not needs_reasoning and primary != "coding":
        complexity = "simple"
    else:
        complexity = "moderate"
    if complex_hits:
        signals.append(f"complexity markers x{complex_hits}")

    total_tokens = context_tokens + estimate_tokens(full)
    needs_long_context = bool(markers["long_context"]) or (
        total_tokens >= settings.long_context_threshold * LONG_CONTEXT_SHARE
    )
    if needs_long_context:
        signals.append(f"long context (~{total_tokens} tokens)")

    domain_hits = domain_vocabulary(settings.high_stakes_domains).counts(tokens)
    domains = _best(domain_hits, settings.high_stakes_domains)
    domain = domains[0] if domains else None
    if domain:
        signals.append(f"high-stakes domain {domain}")
        if complexity == "simple":  # a short medical or legal question is not small talk
            complexity = "moderate"
    if not ranked and (domain or shape.question):
        # No topic keyword, but a question (or a high-stakes domain): someone wants an answer, not a chat.
        primary = "factual"
        signals[signals.index("no category keyword: conversation")] = (
            "no category keyword, a question: factual"
        )

    if previous_model_id is None:
        action = "change"
    else:
        follow_up = words <= FOLLOW_UP_MAX_WORDS and (
            bool(FOLLOW_UP_START.search(text)) or bool(markers["back_reference"]) or not ranked
        )
        action = "keep" if follow_up else "change"
        signals.append("follow-up" if follow_up else "new topic")

    difficulty = difficulty_of(
        complexity=complexity,
        words=words,
        complex_hits=complex_hits,
        needs_reasoning=needs_reasoning,
        code=shape.code,
        primary=primary,
    )
    signals.append(f"difficulty {difficulty:.3f}")

    top = counts.get(primary, 0)
    runner_up = counts.get(secondary, 0) if secondary else 0
    confidence = 0.3 if not ranked else min(0.95, 0.5 + 0.1 * (top - runner_up) + 0.05 * top)

    return Classification(
        primary=primary,
        secondary=secondary,
        complexity=complexity,
        needs_vision=has_attachments,
        needs_image_generation=asks_for_image(text),
        difficulty=difficulty,
        needs_long_context=needs_long_context,
        needs_reasoning=needs_reasoning,
        high_stakes=domain is not None,
        domain=domain,
        action=action,
        confidence=round(confidence, 3),
        signals=tuple(signals),
    )
