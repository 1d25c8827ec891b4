"""Sentiment and themes of free-text comments, computed offline.

Sentiment is VADER's compound score (``vaderSentiment``; its lexicon ships with the
package, nothing is downloaded), except where the source gave the comment its own label
(positive, neutral or negative, in ``responses.sentiment_label``): that label is used, as a
score of +1, 0 or −1. Themes are discovered with scikit-learn: TF-IDF over the comments,
then non-negative matrix factorisation (NMF); each theme is labelled by its top terms and
each comment goes to its strongest theme. Both run once per comment, when it is imported
(``cxmetrics/contract/comment_analysis.py`` stores the results and the fitted theme model); a
comment that arrives later is placed in the stored themes by :func:`assign_themes`.

Themes are found in words only: @handles, links, HTML entities and anything with a digit
are dropped, a hashtag keeps its word ("#delayed" is "delayed"), and English stop words,
the names of accounts the comments address most (the company's own handles) and any
extra words given (``stop_words``: the company's own names) are ignored.

Identical comments are analysed once. Feed masked text (``text.mask_pii``) so that personal
details never become theme terms.
"""

from __future__ import annotations

import multiprocessing
import re
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

SENTIMENT_BANDS = ("negative", "neutral", "positive")
# VADER's own convention: compound ≥ 0.05 is positive, ≤ −0.05 negative.
POSITIVE_FROM = 0.05
NEGATIVE_TO = -0.05
N_THEMES = 10
TERMS_PER_LABEL = 3
NO_THEME = "Unclassified"
FIT_SAMPLE = 30_000  # comments (duplicates included, so volume counts) the themes are fitted on
PARALLEL_FROM = 20_000  # distinct comments from which sentiment runs on every core
SEED = 0

_PLACEHOLDER = re.compile(r"\[(?:email|phone)\]")  # what text.mask_pii leaves behind
_NOT_WORDS = re.compile(
    r"https?://\S+|www\.\S+"  # links
    r"|(?<![\w@])@\w+"  # @handles
    r"|&[a-z]+;|&#\d+;"  # HTML entities (&amp;)
    r"|\b\w*\d\w*\b"  # numbers, and words with digits in them
)
_HANDLE = re.compile(r"(?<![\w@])@(\w+)")
HANDLE_SHARE = 0.01  # an account named in this share of comments is the company's own
LABEL_SCORES = {"positive": 1.0, "neutral": 0.0, "negative": -1.0}
_analyzer = None


def _vader():
    global _analyzer
    if _analyzer is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def _compound(texts: list[str]) -> list[float]:
    analyzer = _vader()
    return [analyzer.polarity_scores(t)["compound"] for t in texts]


def sentiment_scores(texts: list[str], workers: int | None = None) -> np.ndarray:
    """VADER compound score per text, from −1 (most negative) to +1 (most positive)."""
    workers = workers or (multiprocessing.cpu_count() if len(texts) >= PARALLEL_FROM else 1)
    if workers <= 1:
        return np.array(_compound(texts), dtype=np.float64)
    size = -(-len(texts) // workers)
    parts = [texts[i : i + size] for i in range(0, len(texts), size)]
    # "spawn": a forked copy of a threaded server process is not safe.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        scores = [s for part in pool.map(_compound, parts) for s in part]
    return np.array(scores, dtype=np.float64)


def sentiment_band(score: pl.Expr) -> pl.Expr:
    """negative / neutral / positive from a compound score (VADER's thresholds)."""
    return (
        pl.when(score >= POSITIVE_FROM)
        .then(pl.lit("positive"))
        .when(score <= NEGATIVE_TO)
        .then(pl.lit("negative"))
        .otherwise(pl.lit("neutral"))
        .cast(pl.Enum(SENTIMENT_BANDS))
    )


def words_only(text: str) -> str:
    """The text a theme is found in: no masked details, links, @handles, HTML entities or
    numbers; a hashtag keeps its word."""
    return _NOT_WORDS.sub(" ", _PLACEHOLDER.sub(" ", text)).replace("#", " ")


def stop_words(extra=()) -> list[str]:
    """English stop words and the words of ``extra`` (e.g. the company's names: "United
    Airlines" gives "united" and "airlines"), lower case, sorted."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(ENGLISH_STOP_WORDS)
    for name in extra:
        words |= {w.lower() for w in re.findall(r"[^\W\d_]+", str(name))}
    return sorted(words)


def addressed_accounts(texts: list[str], counts: np.ndarray) -> list[str]:
    """The @handles named in at least ``HANDLE_SHARE`` of the comments (and twice): the
    company's own accounts, whose names say nothing about a theme."""
    total = int(counts.sum())
    seen: dict[str, int] = {}
    for text, n in zip(texts, counts, strict=True):
        for handle in {h.lower() for h in _HANDLE.findall(text)}:
            seen[handle] = seen.get(handle, 0) + int(n)
    return sorted(h for h, n in seen.items() if n >= 2 and n >= HANDLE_SHARE * total)


@dataclass(frozen=True)
class Themes:
    labels: list[str]  # one per theme, in theme order
    terms: list[list[str]]  # the top terms of each theme
    assignment: np.ndarray  # per distinct text: its theme's index, or -1 for none
    model: dict | None = None  # what assign_themes needs (plain lists, JSON-ready)


def discover_themes(
    distinct: list[str], counts: np.ndarray, n_themes: int = N_THEMES, extra_stop_words=()
) -> Themes:
    """Themes among ``distinct`` texts, each seen ``counts`` times.

    The vocabulary and the factorisation are fitted on a seeded sample of comments drawn
    with their frequencies, so a complaint written 5,000 times weighs 5,000 times; every
    distinct text is then assigned to its strongest theme. Words of ``extra_stop_words``
    (the company's own names) and of the accounts most comments address are ignored.
    """
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not distinct:
        return Themes([], [], np.zeros(0, dtype=np.int64))
    rng = np.random.default_rng(SEED)
    total = int(counts.sum())
    draw = min(FIT_SAMPLE, total)
    sample = rng.choice(len(distinct), size=draw, replace=True, p=counts / total)
    words = [words_only(t) for t in distinct]
    fit_texts = [words[i] for i in sample]
    ignored = stop_words([*extra_stop_words, *addressed_accounts(distinct, counts)])
    vectorizer = TfidfVectorizer(
        stop_words=ignored,
        min_df=2 if len(distinct) < 1_000 else 5,
        max_df=0.8,  # words in most comments say nothing about a theme
        max_features=5_000,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b",  # words, not numbers or [email] tags
        sublinear_tf=True,
    )
    try:
        fit_matrix = vectorizer.fit_transform(fit_texts)
    except ValueError:  # no word is left after the stop words: nothing to find
        return Themes([], [], np.full(len(distinct), -1, dtype=np.int64))
    k = max(1, min(n_themes, fit_matrix.shape[1] - 1, len(set(fit_texts)) - 1))
    model = NMF(n_components=k, init="nndsvda", max_iter=400, random_state=SEED)
    with warnings.catch_warnings():  # NaN error terms on a tiny corpus, slow convergence on
        warnings.simplefilter("ignore", RuntimeWarning)  # a small one: the themes stand
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(fit_matrix)
    vocabulary = np.array(vectorizer.get_feature_names_out())
    terms = [list(vocabulary[np.argsort(row)[::-1][:TERMS_PER_LABEL]]) for row in model.components_]
    weights = model.transform(vectorizer.transform(words))
    labels = _unique_labels(terms)
    fitted = {
        "labels": labels,
        "terms": [[str(t) for t in words] for words in terms],
        "vocabulary": [str(v) for v in vocabulary],
        "idf": [float(x) for x in vectorizer.idf_],
        "components": [[float(x) for x in row] for row in model.components_],
    }
    return Themes(labels, terms, _strongest(weights), fitted)


def _strongest(weights: np.ndarray) -> np.ndarray:
    """Each row's strongest theme, or -1 where no theme has any weight."""
    return np.where(weights.max(axis=1) > 1e-9, weights.argmax(axis=1), -1).astype(np.int64)


def assign_themes(model: dict, texts: list[str]) -> np.ndarray:
    """The theme index (or -1) of each text under a fitted model (``Themes.model``): the
    same TF-IDF weighting of the stored vocabulary, then the weights of the stored NMF
    components, strongest wins. Nothing is refitted, so earlier comments keep their themes."""
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not texts:
        return np.zeros(0, dtype=np.int64)
    if not model.get("labels"):
        return np.full(len(texts), -1, dtype=np.int64)
    vectorizer = TfidfVectorizer(
        vocabulary=model["vocabulary"],
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b",
        sublinear_tf=True,
    )
    vectorizer.fit(["placeholder"])  # sets the vocabulary; the idf is the stored one
    vectorizer.idf_ = np.array(model["idf"], dtype=np.float64)
    components = np.array(model["components"], dtype=np.float64)
    nmf = NMF(n_components=components.shape[0], init="nndsvda", max_iter=400, random_state=SEED)
    nmf.components_ = components
    nmf.n_components_ = components.shape[0]
    nmf.n_features_in_ = components.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        weights = nmf.transform(vectorizer.transform([words_only(t) for t in texts]))
    return _strongest(weights)


def _unique_labels(terms: list[list[str]]) -> list[str]:
    labels: list[str] = []
    for words in terms:
        label = " · ".join(words)
        while label in labels:
            label += "′"
        labels.append(label)
    return labels


def sentiment_of(comments: pl.DataFrame) -> pl.DataFrame:
    """response_id, sentiment and sentiment_band of a frame with ``response_id``, ``text``
    and ``label`` (the source's own label, used where it is set), as :func:`analyse` gives
    them, without finding themes."""
    distinct = comments.group_by("text").agg(pl.col("label").is_null().any().alias("unlabelled"))
    lexicon = distinct.filter("unlabelled")["text"].sort()
    scored = pl.DataFrame(
        {"text": lexicon, "lexicon": sentiment_scores(lexicon.to_list())},
        schema={"text": pl.String, "lexicon": pl.Float64},
    )
    label = pl.col("label").str.strip_chars().str.to_lowercase()
    return (
        comments.join(scored, on="text", how="left")
        .with_columns(
            pl.coalesce(label.replace_strict(LABEL_SCORES, default=None), pl.col("lexicon"))
            .cast(pl.Float32)
            .alias("sentiment")
        )
        .with_columns(sentiment_band(pl.col("sentiment")).alias("sentiment_band"))
        .select("response_id", "sentiment", "sentiment_band")
    )


@dataclass(frozen=True)
class Analysis:
    per_comment: pl.DataFrame  # response_id, sentiment (−1..1), sentiment_band, theme (label)
    themes: pl.DataFrame  # theme, terms (comma-separated), comments
    model: dict | None = None  # the fitted themes (Themes.model), None without themes


def analyse(comments: pl.DataFrame, n_themes: int = N_THEMES, extra_stop_words=()) -> Analysis:
    """Sentiment and theme for every comment of a frame with ``response_id`` and ``text``
    (and optionally ``label``, the source's own sentiment label, used where it is set).
    ``extra_stop_words``: words themes are not made of, e.g. the company's own names."""
    if "label" not in comments.columns:
        comments = comments.with_columns(pl.lit(None, dtype=pl.String).alias("label"))
    distinct = (
        comments.group_by("text")
        .agg(pl.len().alias("count"), pl.col("label").is_null().any().alias("unlabelled"))
        .sort("text")
    )
    texts = distinct["text"].to_list()
    lexicon = distinct.filter("unlabelled")["text"]  # the lexicon reads only what it must
    scored = pl.DataFrame(
        {"text": lexicon, "lexicon": sentiment_scores(lexicon.to_list())},
        schema={"text": pl.String, "lexicon": pl.Float64},
    )
    found = discover_themes(texts, distinct["count"].to_numpy(), n_themes, extra_stop_words)
    labels = [*found.labels, NO_THEME]
    theme_enum = pl.Enum(labels)
    index = np.where(found.assignment >= 0, found.assignment, len(labels) - 1)
    per_text = distinct.select(
        "text",
        pl.Series("theme", np.array(labels, dtype=object)[index], dtype=pl.String).cast(theme_enum),
    ).join(scored, on="text", how="left")
    label = pl.col("label").str.strip_chars().str.to_lowercase()
    per_comment = (
        comments.join(per_text, on="text", how="left")
        .with_columns(
            pl.coalesce(label.replace_strict(LABEL_SCORES, default=None), pl.col("lexicon"))
            .cast(pl.Float32)
            .alias("sentiment")
        )
        .with_columns(sentiment_band(pl.col("sentiment")).alias("sentiment_band"))
        .select("response_id", "sentiment", "sentiment_band", "theme")
    )
    volume = per_comment.group_by("theme").agg(pl.len().alias("comments"))
    themes = (
        pl.DataFrame(
            {
                "theme": pl.Series(labels, dtype=theme_enum),
                "terms": [", ".join(t) for t in found.terms] + [""],
            }
        )
        .join(volume, on="theme", how="left")
        .with_columns(pl.col("comments").fill_null(0))
    )
    return Analysis(per_comment, themes, found.model)
