"""Text helpers shared by the catalog and the rankers: entity keys, tokens, BM25, fusion.

Conventions
-----------
- :func:`entity_key` is the catalog's normalised id of a name. It is a *coarsening* of the
  paper's ``normalize_title`` (evals.metrics): two names equal under the paper's rule always
  share a key, so excluding a candidate pool by key never lets a pool entity through.
- :func:`loose_key` is looser still (no leading "The", no punctuation, "&" → "and") and is
  used only to match names as people type them, never as an id.
- :func:`tokenize` gives lower-case word tokens without stopwords or one-letter tokens.
- BM25 is Okapi BM25 with ``idf = log(1 + (n - df + 0.5) / (df + 0.5))``; corpus statistics
  (n, df, average length) are taken over the documents a mask admits, so a masked-out
  document influences no score at all.
- Rank fusion is reciprocal rank fusion with ranks starting at 1.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

TOKEN = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be by for from i in is it me my of on or that the this to was were "
    "with you your some any like songs song music album albums artist artists track tracks "
    "what which who looking recommend recommendations similar".split()
)
_CURLY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")
RRF_K = 60


def entity_key(name: str) -> str:
    """The normalised id of a name: NFKC, lower case, straight quotes, no ``"``, single spaces."""
    text = unicodedata.normalize("NFKC", name.lower()).lower().translate(_CURLY)
    return _SPACES.sub(" ", text.replace('"', " ")).strip()


def best_spelling(spellings: Mapping[str, int]) -> str:
    """The display name among an entity's spellings: the commonest; ties go to one in mixed
    case ("My Body Is a Cage" over "MY BODY IS A CAGE" or "my body is a cage"), then to the
    first in order, so a name never depends on input order."""
    return min(spellings, key=lambda s: (-spellings[s], s.isupper() or s.islower(), s))


def canonical_spelling(key: str, spellings: Mapping[str, int]) -> str:
    """The display name of the entity ``key`` among its spellings: the best of those that
    spell the key itself ("Chance the Rapper", however often fans wrote "Chance", which
    merged into it), or of all of them when none does."""
    return best_spelling({s: n for s, n in spellings.items() if entity_key(s) == key} or spellings)


def loose_key(name: str) -> str:
    """A forgiving form for fuzzy lookup: no punctuation, "&" as "and", and no article
    "the" in front or filed behind ("The Beatles", "Beatles, The" → "beatles")."""
    text = entity_key(name).replace("&", " and ").replace("'", "")
    text = re.sub(r",\s*the$", "", text)
    text = _SPACES.sub(" ", _PUNCTUATION.sub(" ", text)).strip()
    return text.removeprefix("the ")


def plain_key(name: str) -> str:
    """:func:`loose_key` without accents, for names a user types on a plain keyboard
    ("Bjork" for "Björk", "Sigur Ros" for "Sigur Rós")."""
    decomposed = unicodedata.normalize("NFKD", loose_key(name))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stopwords or single characters."""
    return [t for t in TOKEN.findall(text.lower()) if len(t) > 1 and t not in STOPWORDS]


@dataclass(frozen=True)
class _Postings:
    documents: np.ndarray  # document indexes holding the term
    counts: np.ndarray  # term frequency in each of them


class BM25Index:
    """An inverted index answering BM25 scores for every document at once."""

    def __init__(self, documents: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        lengths: list[int] = []
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for index, tokens in enumerate(documents):
            lengths.append(len(tokens))
            for term, count in Counter(tokens).items():
                docs, counts = postings.setdefault(term, ([], []))
                docs.append(index)
                counts.append(count)
        self.lengths = np.asarray(lengths, dtype=np.float64)
        self.postings = {
            term: _Postings(np.asarray(docs, dtype=np.int64), np.asarray(counts, dtype=np.float64))
            for term, (docs, counts) in postings.items()
        }

    def __len__(self) -> int:
        return len(self.lengths)

    def scores(self, query_terms: Iterable[str], mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every document (0 where ``mask`` is False) for a set of terms."""
        admitted = np.ones(len(self), dtype=bool) if mask is None else mask
        scores = np.zeros(len(self), dtype=np.float64)
        n = int(admitted.sum())
        if n == 0:
            return scores
        average = float(self.lengths[admitted].mean())
        norm = self.k1 * (1 - self.b + self.b * self.lengths / average) if average else None
        for term in set(query_terms):
            posting = self.postings.get(term)
            if posting is None:
                continue
            keep = admitted[posting.documents]
            documents, counts = posting.documents[keep], posting.counts[keep]
            df = len(documents)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            denominator = counts + (norm[documents] if norm is not None else self.k1)
            scores[documents] += idf * counts * (self.k1 + 1) / denominator
        return scores


def bm25_scores(
    query: str, documents: Sequence[str], k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """Okapi BM25 score of each document for ``query`` (idf from ``documents`` themselves)."""
    if not documents:
        return []
    index = BM25Index((tokenize(d) for d in documents), k1, b)
    return index.scores(tokenize(query)).tolist()


def top_ranks(
    scores: np.ndarray, limit: int, admitted: np.ndarray | None = None, positive_only: bool = False
) -> dict[int, int]:
    """1-based ranks of the ``limit`` best admitted documents by descending score
    (ties broken by document index, so results never depend on hash order)."""
    indexes = np.arange(len(scores)) if admitted is None else np.flatnonzero(admitted)
    if positive_only:
        indexes = indexes[scores[indexes] > 0]
    order = indexes[np.lexsort((indexes, -scores[indexes]))][:limit]
    return {int(i): rank for rank, i in enumerate(order, start=1)}


def standardised(values: np.ndarray) -> np.ndarray:
    """z-scores within one pool (all zeros when the pool does not vary)."""
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def reciprocal_rank_fusion(*rankings: dict[int, int], k: int = RRF_K) -> dict[int, float]:
    """Sum of ``1 / (k + rank)`` over the rankings that rank each document."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for document, rank in ranking.items():
            fused[document] = fused.get(document, 0.0) + 1.0 / (k + rank)
    return fused
