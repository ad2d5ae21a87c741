"""Model search: an index that answers a typed query in microseconds, ranked as users expect.

Pure Python, no ORM. Built from a catalog's ``ModelConfig`` objects once per catalog snapshot
(lazily, on the snapshot's first search: see ``CatalogIndex.search``); every search then reads
precomputed tables instead of scanning the catalog.

Folding. The query and every searched text are compared *folded*: case-folded, and each run of
characters that are not letters or digits ('-', ' ', '.', '_', '/', ':', ...) made one space.
Users type names with spaces and ids with dashes: "Gemini Flash", "gemini-flash" and
"gemini_flash" are then the same text. A query that folds to nothing ("", "  ", "--") is the
empty query: every model matches, as if at one level.

Ranking, by levels, best first:

0. exact id: the query is the id (``openai:gpt-5``) or the id without its provider prefix (``gpt-5``);
1. exact name ("Claude Sonnet 4.5");
2. id prefix: either id starts with the query ("gpt-5" finds ``openai:gpt-5-mini``, "openai"
   every ``openai:`` model, "gemini flash" ``google:gemini-flash-lite``);
3. name prefix;
4. word prefix: every word of the query starts a word of the id, the name, the provider's slug
   or the provider's name, in any order ("sonnet" finds "Claude Sonnet 4.5", "qwen coder" finds
   ``alibaba:qwen3-coder``, "flash gemini" finds "Gemini 2.5 Flash");
5. substring: the whole query appears in the id, the name, the provider's slug or name, or the
   description ("pt-5" finds gpt-5; a word found only in descriptions finds those models).

A query of several words is taken whole, as a phrase, by every level but the word-prefix one,
which takes its words one by one: "gemini flash" is an id prefix of ``gemini-flash-lite`` and a
word-prefix match of ``gemini-2.5-flash``, and "qwen coder" still finds ``qwen3-coder``.

A model appears once, at its best level. Within a level, models whose provider is first-party
come before resellers' listings (``openai:gpt-5`` before ``azure:gpt-5``); within each of those
groups selectable models come first, then (only with ``include_unselectable``) the others:
deprecated, or past their deprecation date; then by id. Internal-only models are never searched.

How it stays fast. Each model has a fixed position in the order "first-party first, then by id",
and every table lists positions in increasing order, so each level's matches come out already
ranked and a search stops as soon as it has ``limit`` models. Ids and names are sorted keys (the
exact and the prefix matches of a query are one range, found by bisection); the words of ids,
names and providers map to the positions having them (postings). The substring level looks for
the query in the catalog's distinct words (``str.find`` over one short joined text): a query
found nowhere costs microseconds, not a scan of every description. Its tables (the words of the
descriptions) are built on the first search that reaches that level. Which models are
selectable depends on the UTC day (deprecation dates): those flags are kept per day.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import accumulate, chain, islice
from operator import attrgetter

from models_registry.domain.types import ModelConfig

__all__ = ["SearchIndex", "fold"]

_ID = attrgetter("id")
_SEP = "\x00"  # between texts folded together (folding makes a \x00 inside a text a space)
_FIELD = "\x01"  # between the fields of a model's word text: never in a folded query
_TOP = chr(0x10FFFF)  # sorts after any folded text: keys starting with q lie in [q, q + _TOP)
# A range with this many positions or more keeps its ranked positions for the next query with
# the same range (short prefixes: "g", "gp", "cla"): sorting them again would cost more than the
# rest of the search. Bounded: few prefix ranges are this large.
_MEMO_FROM = 64


class _FoldTable(dict):
    """``str.translate`` table: letters and digits stay, every other character becomes a space.

    Filled on first sight of each character, so it covers any text without listing Unicode.
    """

    __slots__ = ()

    def __missing__(self, code: int) -> str:
        char = chr(code)
        value = char if char.isalnum() else " "
        self[code] = value  # racing threads store the same value
        return value


_FOLD = _FoldTable()
_FOLD_KEEPING_SEP = _FoldTable({ord(_SEP): _SEP})


def fold(text: str) -> str:
    """``text`` as search compares it: case-folded, runs of non-alphanumerics made one space, stripped."""
    return " ".join(text.casefold().translate(_FOLD).split())


def _fold_many(texts: list[str]) -> list[str]:
    """``[fold(text) for text in texts]``, case-folded and translated in one pass over the texts joined.

    One call per text would cost more than the rest of the build; joined, the case folding and
    the translation run once, in C, and only the texts with runs of spaces are split and joined.
    """
    joined = _SEP.join(texts)
    if joined.count(_SEP) != len(texts) - 1:  # a text holds the separator: one at a time
        return [fold(text) for text in texts]
    return [
        " ".join(text.split()) if "  " in text or text[:1] == " " or text[-1:] == " " else text
        for text in joined.casefold().translate(_FOLD_KEEPING_SEP).split(_SEP)
    ]


def _ranked_union(lists: list[list[int]]) -> Iterable[int]:
    """The positions of ranked lists, together and ranked (a position may repeat)."""
    if len(lists) <= 1:
        return lists[0] if lists else ()
    if sum(map(len, lists)) <= 512:
        return sorted(chain.from_iterable(lists))
    return heapq.merge(*lists)  # lazy: the search stops after ``limit`` models


def _holding(
    positions: Iterable[int], parts: list[str], texts: list[str], more: list[str] | None = None
) -> Iterator[int]:
    """The positions holding every part in their text (or else in their ``more`` text), in order.

    Checked a batch at a time, each part by a comprehension over the batch: a search that stops
    early checks few positions, and one that goes on does not pay a call per check.
    """
    iterator = iter(positions)
    while batch := list(islice(iterator, 128)):
        for part in parts:
            if more is None:
                batch = [position for position in batch if part in texts[position]]
            else:
                batch = [position for position in batch if part in texts[position] or part in more[position]]
        yield from batch


class _SortedKeys:
    """Folded keys (ids, names), sorted, each with its model's position."""

    __slots__ = ("keys", "memo", "positions")

    def __init__(self, keys: list[str], positions: list[int]) -> None:
        by_key = sorted(range(len(keys)), key=keys.__getitem__)
        self.keys = [keys[k] for k in by_key]
        self.positions = [positions[k] for k in by_key]
        self.memo: dict[tuple[int, int], list[int]] = {}

    def prefix_range(self, query: str) -> tuple[int, int]:
        """The keys starting with ``query`` are ``keys[low:high]``; those equal to it come first."""
        low = bisect_left(self.keys, query)
        return low, bisect_left(self.keys, query + _TOP, low)

    def exact(self, query: str, low: int, high: int) -> list[int]:
        return sorted(self.positions[low : bisect_right(self.keys, query, low, high)])

    def ranked(self, low: int, high: int) -> list[int]:
        if high - low < _MEMO_FROM:
            return sorted(self.positions[low:high])
        ranked = self.memo.get((low, high))
        if ranked is None:
            ranked = self.memo[low, high] = sorted(self.positions[low:high])
        return ranked


class _Vocabulary:
    """Distinct words, joined, to find the ones containing a text with ``str.find``."""

    __slots__ = ("starts", "text", "words")

    def __init__(self, words: Iterable[str]) -> None:
        self.words = sorted(words)
        self.text = _SEP.join(self.words)
        self.starts = [0, *accumulate(len(word) + 1 for word in self.words)]

    def containing(self, part: str) -> list[str]:
        text, starts, words = self.text, self.starts, self.words
        found = []
        at = text.find(part)
        while at != -1:
            index = bisect_right(starts, at) - 1
            found.append(words[index])
            at = text.find(part, starts[index + 1])  # on to the next word
        return found


class _SubstringTables:
    """What only the substring level reads: built on the first search that gets that far."""

    __slots__ = ("descriptions", "extra", "vocabulary")

    def __init__(
        self, word_texts: list[str], postings: dict[str, list[int]], descriptions: list[str]
    ) -> None:
        self.descriptions = _fold_many(descriptions)
        # Word → the positions having it in their description but not in their id, name or provider.
        extra: defaultdict[str, list[int]] = defaultdict(list)
        for position, (text, description) in enumerate(zip(word_texts, self.descriptions, strict=True)):
            for word in set(description.split()).difference(text.split()):
                extra[word].append(position)
        self.extra = dict(extra)
        self.vocabulary = _Vocabulary(postings.keys() | self.extra.keys())


class SearchIndex:
    """The public models of a catalog, indexed for ``search`` (the module docstring says how)."""

    __slots__ = (
        "_dated",
        "_descriptions",
        "_first_party_count",
        "_flags",
        "_ids",
        "_models",
        "_names",
        "_postings",
        "_pro",
        "_substring",
        "_word_keys",
        "_word_memo",
        "_word_texts",
    )

    def __init__(self, models: Iterable[ModelConfig]) -> None:
        public = sorted((model for model in models if not model.is_internal_only), key=_ID)
        ordered = [model for model in public if model.provider_first_party]
        self._first_party_count = len(ordered)  # positions below it are first-party models
        ordered += [model for model in public if not model.provider_first_party]
        self._models: tuple[ModelConfig, ...] = tuple(ordered)
        self._dated = any(model.deprecation_date is not None for model in ordered)
        self._flags: tuple[date, bytes] | None = None
        self._pro = bytes([model.is_pro for model in ordered])
        count = len(ordered)
        positions = list(range(count))

        ids = [model.id for model in ordered]
        folded = _fold_many(
            [
                *ids,
                *(tail if colon else head for head, colon, tail in (i.partition(":") for i in ids)),
                *(model.name for model in ordered),
                *(model.provider for model in ordered),
                *(model.provider_name for model in ordered),
            ]
        )
        fids, short_ids, names, providers, provider_names = (
            folded[k * count : (k + 1) * count] for k in range(5)
        )
        self._ids = _SortedKeys(fids + short_ids, positions + positions)
        self._names = _SortedKeys(names, positions)
        # " id \x01 name \x01 provider \x01 provider name": each word follows a space, so " " + w
        # is in it exactly when one of its words starts with w; a phrase cannot span two fields.
        self._word_texts = [
            f" {a} {_FIELD} {b} {_FIELD} {c} {_FIELD} {d}"
            for a, b, c, d in zip(fids, names, providers, provider_names, strict=True)
        ]
        # Word → the positions having it, increasing (built in position order).
        postings: defaultdict[str, list[int]] = defaultdict(list)
        for position, text in zip(positions, self._word_texts, strict=True):
            for word in set(text.split()):
                postings[word].append(position)
        postings.pop(_FIELD, None)
        self._postings = dict(postings)
        self._word_keys = sorted(self._postings)
        self._word_memo: dict[tuple[int, int], list[int]] = {}
        self._descriptions = [model.description for model in ordered]
        self._substring: _SubstringTables | None = None

    def __len__(self) -> int:
        return len(self._models)

    def search(
        self,
        query: str,
        limit: int = 20,
        *,
        include_unselectable: bool = False,
        include_pro: bool = True,
        day: date,
    ) -> list[ModelConfig]:
        """The best ``limit`` models for ``query``, best first.

        ``day`` (UTC) decides which models are selectable: past its deprecation date a model is
        not. Without ``include_unselectable`` only selectable models are returned; without
        ``include_pro``, no pro model.
        """
        if limit <= 0:
            return []
        needle = fold(query)
        selectable = self._selectable_on(day)
        pro = None if include_pro else self._pro
        levels: Iterable[Iterable[int]] = self._levels(needle) if needle else (range(len(self._models)),)
        picked: list[int] = []
        seen: set[int] = set()
        first_party_count = self._first_party_count
        for level in levels:
            # The unselectable matches of the level's current provider group (first-party, then
            # resellers): after that group's selectable ones, before the next group's.
            held: list[int] = []
            for position in level:
                if position in seen or (pro is not None and pro[position]):
                    continue
                seen.add(position)
                if held and position >= first_party_count and held[0] < first_party_count:
                    picked += held[: limit - len(picked)]  # the first-party group ended
                    held = []
                    if len(picked) == limit:
                        return self._at(picked)
                if selectable[position]:
                    picked.append(position)
                    if len(picked) == limit:
                        return self._at(picked)
                elif include_unselectable and len(picked) + len(held) < limit:
                    held.append(position)
            picked += held[: limit - len(picked)]
            if len(picked) == limit:
                break
        return self._at(picked)

    def _at(self, positions: list[int]) -> list[ModelConfig]:
        models = self._models
        return [models[position] for position in positions]

    def _selectable_on(self, day: date) -> bytes:
        """A flag per position, kept for the last day asked (it changes only with deprecation dates)."""
        flags = self._flags
        if flags is not None and (flags[0] == day or not self._dated):
            return flags[1]
        selectable = bytes([model.is_selectable_on(day) for model in self._models])
        self._flags = (day, selectable)  # one assignment: a racing reader sees the old or the new pair
        return selectable

    def _levels(self, needle: str) -> Iterator[Iterable[int]]:
        """Each level's matching positions, ranked; a level is computed only if the search gets there."""
        ids, names = self._ids, self._names
        id_low, id_high = ids.prefix_range(needle)
        name_low, name_high = names.prefix_range(needle)
        yield ids.exact(needle, id_low, id_high)
        yield names.exact(needle, name_low, name_high)
        yield ids.ranked(id_low, id_high)
        yield names.ranked(name_low, name_high)
        yield self._word_prefix_matches(needle)
        yield self._substring_matches(needle)

    def _starting(self, part: str) -> tuple[int, int, int]:
        """How many postings, and the range of ``_word_keys``, for the words starting with ``part``."""
        keys = self._word_keys
        low = bisect_left(keys, part)
        high = bisect_left(keys, part + _TOP, low)
        postings = self._postings
        return sum(len(postings[word]) for word in keys[low:high]), low, high

    def _having_words(self, low: int, high: int) -> Iterable[int]:
        """The positions having a word of ``_word_keys[low:high]``, ranked."""
        postings = self._postings
        lists = [postings[word] for word in self._word_keys[low:high]]
        if len(lists) <= 1 or sum(map(len, lists)) <= 512:
            return _ranked_union(lists)
        ranked = self._word_memo.get((low, high))
        if ranked is None:  # a short prefix of many words ("g", "2"): kept, as in _SortedKeys
            ranked = self._word_memo[low, high] = sorted(set(chain.from_iterable(lists)))
        return ranked

    def _word_prefix_matches(self, needle: str) -> Iterable[int]:
        ranges = []
        for part in dict.fromkeys(needle.split(" ")):
            size, low, high = self._starting(part)
            if not size:
                return ()
            ranges.append((size, low, high, part))
        if len(ranges) == 1:
            return self._having_words(ranges[0][1], ranges[0][2])
        # Every query word must start a word: go through the rarest one's models, check the others.
        ranges.sort()
        _, low, high, _ = ranges[0]
        return _holding(
            self._having_words(low, high), [" " + part for *_, part in ranges[1:]], self._word_texts
        )

    def _substring_tables(self) -> _SubstringTables:
        tables = self._substring
        if tables is None:  # racing threads build equal tables; either one is kept
            tables = self._substring = _SubstringTables(self._word_texts, self._postings, self._descriptions)
        return tables

    def _substring_matches(self, needle: str) -> Iterable[int]:
        """Positions whose id, name, provider or description holds ``needle``, ranked.

        Each word of the query lies inside a word of a text holding it: the candidates are the
        models having a word that contains the query's rarest word. A query of one word is
        inside a word of the text exactly when it is in the text: no check needed.
        """
        tables = self._substring_tables()
        postings, extra = self._postings, tables.extra
        rarest: list[list[int]] | None = None
        for part in dict.fromkeys(needle.split(" ")):
            words = tables.vocabulary.containing(part)
            lists = [found for word in words for found in (postings.get(word), extra.get(word)) if found]
            if not lists:
                return ()
            if rarest is None or sum(map(len, lists)) < sum(map(len, rarest)):
                rarest = lists
        found = _ranked_union(rarest or [])
        if " " not in needle:
            return found
        return _holding(found, [needle], self._word_texts, tables.descriptions)
