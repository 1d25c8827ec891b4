"""Voice of the customer: sentiment, themes, search, the closed loop, broken processes and
leading indicators, on hand-made cases and on the sample company."""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from cxmetrics.contract import sample, text_analytics
from cxmetrics.contract.journey import Journey
from cxmetrics.findings import closed_loop, findings, leading
from cxmetrics.stats import complaints, dataset, voc
from cxmetrics.stats.filters import Filters

D = dt.date


# --- sentiment and themes -------------------------------------------------------------


def test_sentiment_of_fixed_sentences():
    texts = [
        "The staff were friendly and helpful, a great experience.",
        "Terrible service, they charged me twice and nobody helped.",
        "The letter arrived on Tuesday.",
    ]
    scores = text_analytics.sentiment_scores(texts)
    bands = pl.select(text_analytics.sentiment_band(pl.lit(pl.Series(scores))))
    assert bands.to_series().to_list() == ["positive", "negative", "neutral"]
    assert scores[0] > 0.5 and scores[1] < -0.5 and scores[2] == 0.0


def test_sentiment_runs_the_same_on_two_processes():
    texts = ["Great, thank you!", "Awful.", "It was fine."] * 4
    one = text_analytics.sentiment_scores(texts, workers=1)
    two = text_analytics.sentiment_scores(texts, workers=2)
    np.testing.assert_allclose(one, two)


def test_themes_separate_two_topics_and_label_them_by_their_words():
    billing = [
        "charged twice on my direct debit",
        "direct debit charged twice again",
        "refund for the direct debit charged twice",
    ]
    claims = [
        "no update on my claim assessor",
        "claim assessor never called with an update",
        "waiting for the claim assessor update",
    ]
    texts = billing * 40 + claims * 40
    comments = pl.DataFrame({"response_id": range(len(texts)), "text": texts})
    result = text_analytics.analyse(comments, n_themes=2)
    theme_of = dict(
        zip(result.per_comment["response_id"], result.per_comment["theme"], strict=True)
    )
    billing_theme = {theme_of[i] for i in range(120)}
    claims_theme = {theme_of[i] for i in range(120, 240)}
    assert len(billing_theme) == 1 and len(claims_theme) == 1
    assert billing_theme != claims_theme
    (b,), (c,) = billing_theme, claims_theme
    assert {"charged", "debit"} & set(b.split(" · "))
    assert {"claim", "assessor", "update"} & set(c.split(" · "))
    counts = dict(zip(result.themes["theme"], result.themes["comments"], strict=True))
    assert counts[b] == 120 and counts[c] == 120


def test_masked_details_never_become_theme_words():
    texts = ["Write to [email] about the refund"] * 30 + ["Ring [phone] about the bill"] * 30
    comments = pl.DataFrame({"response_id": range(60), "text": texts})
    terms = " ".join(text_analytics.analyse(comments, n_themes=2).themes["terms"])
    assert "refund" in terms or "bill" in terms
    assert "phone" not in terms and "email" not in terms


def test_theme_words_leave_out_handles_links_numbers_and_the_companys_names():
    words = text_analytics.words_only(
        "@united #Delayed 2nd flight in 3 hrs http://t.co/x1 &amp; a@b"
    )
    assert words.split() == ["Delayed", "flight", "in", "hrs", "a@b"]
    assert {"acme", "air", "acmeair"} <= set(text_analytics.stop_words(["Acme Air", "AcmeAir2"]))
    bags = [
        "@united my bag was lost https://t.co/AbC123 acme air #lostbag",
        "@United lost bag again, 2 days and no bag http://t.co/XyZ #lostbag",
        "@united bag lost in transit www.acme.example 30 hours",
    ]
    delays = [
        "@united flight #delayed 3 hours at the gate acme",
        "@jetblue @united #delayed again, gate change 45 mins",
        "@united delayed flight, missed my connection 1st time",
    ]
    texts = bags * 40 + delays * 40
    comments = pl.DataFrame({"response_id": range(len(texts)), "text": texts})
    result = text_analytics.analyse(comments, n_themes=2, extra_stop_words=["Acme Air"])
    terms = {t for row in result.themes["terms"] for t in row.split(", ") if t}
    assert terms, "themes were found"
    forbidden = {"united", "jetblue", "http", "https", "www", "co", "acme", "air", "example"}
    assert not terms & forbidden, terms & forbidden
    assert not any(ch.isdigit() for t in terms for ch in t)
    assert "delayed" in terms and {"bag", "lost"} & terms  # a hashtag keeps its word
    # accounts named in 1% of comments (and twice) are the company's; rarer ones stay words
    many = texts * 5 + ["thanks @Rare"] * 2 + ["@once"]  # 1,203 comments
    assert text_analytics.addressed_accounts(many, np.ones(len(many))) == ["jetblue", "united"]
    assert text_analytics.addressed_accounts(["@once", "@twice", "@twice"], np.ones(3)) == ["twice"]


def test_a_sources_own_sentiment_label_is_used_instead_of_the_lexicon():
    texts = ["I love this airline", "I love this airline", "I love this airline", "meh"]
    comments = pl.DataFrame(
        {
            "response_id": [1, 2, 3, 4],
            "text": texts,
            "label": ["negative", None, " Neutral ", "positive"],
        }
    )
    got = text_analytics.analyse(comments, n_themes=1).per_comment.sort("response_id")
    lexicon = text_analytics.sentiment_scores(["I love this airline"])[0]
    assert lexicon > text_analytics.POSITIVE_FROM  # the lexicon would call it positive
    assert got["sentiment"].to_list() == pytest.approx([-1.0, lexicon, 0.0, 1.0], abs=1e-6)
    assert got["sentiment_band"].cast(pl.String).to_list() == [
        "negative",
        "positive",
        "neutral",
        "positive",
    ]


def test_the_search_example_is_a_word_of_the_data(loaded):
    ids = loaded.responses.sort("response_id")["response_id"].head(90).to_list()
    texts = ["my luggage never arrived"] * 60 + ["the seat was too narrow"] * 30
    v = voc.build(loaded, pl.DataFrame({"response_id": ids, "comment": texts}), n_themes=2)
    assert voc.search_example(v) in {"luggage", "arrived"}  # the largest theme's first word
    empty = voc.build(loaded, pl.DataFrame({"response_id": ids[:1], "comment": ["   "]}))
    assert voc.search_example(empty) is None


# --- verbatims: masking, search, paging -------------------------------------------------


@pytest.fixture(scope="module")
def tiny_verbatims(loaded):
    """Five real responses of the test company given hand-written comments."""
    ids = loaded.responses.sort("response_id")["response_id"].head(5).to_list()
    comments = pl.DataFrame(
        {
            "response_id": ids,
            "comment": [
                "<script>window.__xss = 1</script> Billing was wrong",
                "See [my photos](http://evil.example) of the damage",
                '=HYPERLINK("http://evil.example","click") refund please',
                "Write to jo.bloggs@example.com or call 07700 900123 (charged twice)",
                "   ",
            ],
        }
    )
    return ids, voc.build(loaded, comments, n_themes=2)


def test_build_masks_details_keeps_the_raw_text_and_drops_blank_comments(tiny_verbatims):
    ids, v = tiny_verbatims
    assert v.comments.height == 4  # the blank one is not a comment
    by_id = dict(zip(v.comments["response_id"], v.comments["comment"], strict=True))
    assert by_id[ids[3]] == "Write to [email] or call [phone] (charged twice)"
    raw = dict(zip(v.comments["response_id"], v.comments["raw"], strict=True))
    assert raw[ids[3]].startswith("Write to jo.bloggs@example.com")
    assert by_id[ids[0]] == "<script>window.__xss = 1</script> Billing was wrong"
    assert by_id[ids[2]].startswith('=HYPERLINK("http://evil.example"')


def test_search_is_literal_case_insensitive_and_respects_masking(tiny_verbatims):
    ids, v = tiny_verbatims
    every = voc.in_view(v, Filters(), None)

    def found(text, unmasked=False):
        return voc.search(every, voc.Query(text=text), unmasked=unmasked)["response_id"].to_list()

    assert found("HYPERLINK(") == [ids[2]]  # a regex character is taken literally
    assert found("[MY PHOTOS]") == [ids[1]]
    assert set(found("EVIL.example")) == {ids[1], ids[2]}
    assert found("jo.bloggs") == []  # masked: the address cannot be searched for
    assert found("jo.bloggs", unmasked=True) == [ids[3]]


def test_search_filters_combine_and_page_clamps(loaded):
    rows = loaded.responses.head(60)
    comments = pl.DataFrame(
        {
            "response_id": rows["response_id"],
            "comment": [f"comment number {i}" for i in range(60)],
        }
    )
    v = voc.build(loaded, comments, n_themes=1)
    every = voc.in_view(v, Filters(), None)
    source = every["source"].cast(pl.String)[0]
    want = every.filter(
        (pl.col("source").cast(pl.String) == source) & (pl.col("score_band") == "no NPS")
    )
    got = voc.search(every, voc.Query(sources=(source,), score_bands=("no NPS",)))
    assert sorted(got["response_id"]) == sorted(want["response_id"])
    found = voc.search(every, voc.Query())
    first_page, number, pages = voc.page(found, 1, size=25)
    assert first_page["responded_on"].is_sorted(descending=True)
    assert first_page["response_id"].to_list() == found["response_id"].tail(25).to_list()[::-1]
    rows_page, number, pages = voc.page(found, 99, size=25)
    assert (number, pages, rows_page.height) == (3, 3, 10)
    assert rows_page["response_id"].to_list() == found["response_id"].head(10).to_list()[::-1]
    rows_page, number, _ = voc.page(found.head(0), 5)
    assert (number, rows_page.height) == (1, 0)


def test_display_rows_show_names_and_the_masked_text_by_default(tiny_verbatims, loaded):
    ids, v = tiny_verbatims
    row = v.comments.filter(pl.col("response_id") == ids[3])
    shown = voc.display_rows(row, loaded.journey)
    assert shown["comment"][0] == "Write to [email] or call [phone] (charged twice)"
    assert voc.display_rows(row, loaded.journey, unmasked=True)["comment"][0].startswith(
        "Write to jo.bloggs@"
    )
    tp = row["touchpoint_id"].cast(pl.String)[0]
    assert shown["touchpoint"][0] == loaded.journey.touchpoint_name(tp) != tp
    # what a reader reads first, before the columns a narrow screen scrolls to
    assert shown.columns[:7] == [
        "responded_on",
        "stage",
        "touchpoint",
        "comment",
        "nps",
        "sentiment",
        "theme",
    ]


def test_rising_themes_by_hand():
    def frame(counts: dict[str, int]) -> pl.DataFrame:
        themes = [t for t, n in counts.items() for _ in range(n)]
        return pl.DataFrame(
            {
                "theme": themes,
                "nps": [None] * len(themes),
                "csat": [None] * len(themes),
                "ces": [None] * len(themes),
                "sentiment": [0.0] * len(themes),
                "sentiment_band": ["neutral"] * len(themes),
            },
            schema_overrides={"nps": pl.Int8, "csat": pl.Int8, "ces": pl.Int8},
        )

    now = frame({"billing": 60, "claims": 40})  # billing 60% now
    before = frame({"billing": 20, "claims": 80})  # 20% before
    out = voc.rising(now, before, min_n=30)
    billing = out.filter(pl.col("theme") == "billing").row(0, named=True)
    assert billing["change"] == pytest.approx(40.0)
    pooled = 80 / 200
    se = 100 * (pooled * (1 - pooled) * (1 / 100 + 1 / 100)) ** 0.5
    p = math.erfc(40 / se / math.sqrt(2))  # two-sided; claims has the same |z|
    assert billing["q"] == pytest.approx(p)  # two equal p-values: q = p
    assert billing["significant"] == (p <= 0.05)
    assert out["theme"].to_list() == ["billing", "claims"]
    # one theme rising at 95% on its own, among three: Benjamini-Hochberg keeps none
    now = frame({"a": 130, "b": 100, "c": 100, "d": 670})
    before = frame({"a": 100, "b": 100, "c": 100, "d": 700})
    out = voc.rising(now, before, min_n=30)
    rows = {r["theme"]: r for r in out.iter_rows(named=True)}

    def p_of(x_now: int, x_before: int) -> float:
        pooled = (x_now + x_before) / 2000
        se = (pooled * (1 - pooled) * (2 / 1000)) ** 0.5
        return math.erfc(abs(x_now - x_before) / 1000 / se / math.sqrt(2))

    ps = {"a": p_of(130, 100), "b": 1.0, "c": 1.0, "d": p_of(670, 700)}
    assert ps["a"] < 0.05  # significant alone
    ordered = sorted(ps.items(), key=lambda kv: kv[1])
    q, running = {}, 1.0
    for rank in range(len(ordered), 0, -1):  # BH by hand: step-up from the largest p
        theme, pv = ordered[rank - 1]
        running = min(running, pv * len(ordered) / rank)
        q[theme] = running
    for theme in ps:
        assert rows[theme]["q"] == pytest.approx(q[theme]), theme
    assert q["a"] > 0.05 and not rows["a"]["significant"]


# --- closed loop -----------------------------------------------------------------------


def tiny_journey() -> Journey:
    return Journey(
        stages=pl.DataFrame({"stage_id": ["s1", "s2"], "name": ["One", "Two"], "position": [1, 2]}),
        touchpoints=pl.DataFrame(
            {"touchpoint_id": ["t1", "t2"], "stage_id": ["s1", "s2"], "name": ["T1", "T2"]}
        ),
        departments=pl.DataFrame({"department_id": ["a", "b"], "name": ["Alpha", "Beta"]}),
        stage_owners=pl.DataFrame(
            {"stage_id": ["s1", "s2"], "department_id": ["a", "b"], "role": ["lead", "lead"]}
        ),
        targets=pl.DataFrame(
            schema={"metric": pl.String, "stage_id": pl.String, "target": pl.Float64}
        ),
        incentives=pl.DataFrame(schema={"department_id": pl.String, "cx_share": pl.Float64}),
    )


def tiny_cases(contacts_recorded: bool = True, only_stage: str | None = None):
    j = tiny_journey()
    customers = dataset.prepare_customers(
        pl.DataFrame(
            {
                "customer_id": [1, 2, 3],
                "segment": ["x", "x", "y"],
                "region": ["N", "N", "S"],
            }
        )
    )
    day0 = D(2026, 1, 1)

    def d(n):
        return day0 + dt.timedelta(days=n)

    cases = pl.DataFrame(
        {
            "case_id": [1, 2, 3, 4, 5, 6],
            "response_id": [None] * 6,
            "customer_id": [1, 2, 2, 3, 1, 3],
            "touchpoint_id": ["t1", "t1", "t1", "t1", "t1", "t2"],
            "department_id": ["a", "a", "a", "a", "a", "b"],
            "opened_on": [d(0), d(0), d(1), d(2), d(3), d(0)],
            "closed_on": [d(2), d(4), d(5), d(12), None, d(1)],
            "root_cause": ["r"] * 6,
            "customer_confirmed": [True, True, False, None, None, True],
        },
        schema_overrides={"response_id": pl.Int64},
    )
    contacts = pl.DataFrame(
        {
            "contact_id": [1, 2, 3, 4, 5],
            "customer_id": [1, 2, 3, 3, 3],
            "touchpoint_id": ["t1", "t1", "t2", "t2", "t1"],
            "contacted_on": [
                d(2),  # case 1 closed that day: not after the closure
                d(10),  # case 2 (closed day 4): a repeat within 30 days, same stage
                d(5),  # case 6 is on s2, closed day 1: a repeat
                d(40),
                d(50),
            ],
        }
    )
    compact = dataset.compact_contacts(contacts, j, customers)
    if not contacts_recorded:
        compact = compact.clear()
    if only_stage is not None:
        compact = compact.filter(pl.col("stage_id").cast(pl.String) == only_stage)
    return closed_loop.prepare(cases, compact, customers, j), j


def test_false_closure_and_confirmed_rates_by_hand():
    cases, j = tiny_cases()
    flags = dict(zip(cases["case_id"], cases["false_closure"], strict=True))
    # 1: confirmed, no later contact. 2: confirmed but came back on day 10. 3: said no.
    # 4: not asked. 5: still open. 6: confirmed but came back about the same stage.
    assert flags == {1: False, 2: True, 3: True, 4: True, 5: None, 6: True}
    per = closed_loop.by_department(cases, j)
    a = per.filter(pl.col("department_id") == "a").row(0, named=True)
    assert (a["opened"], a["closed"], a["confirmed"], a["false_closures"]) == (5, 4, 2, 3)
    assert a["closure_rate"] == pytest.approx(80.0)
    assert a["confirmed_rate"] == pytest.approx(40.0)
    assert a["gap"] == pytest.approx(40.0)
    assert a["false_closure_rate"] == pytest.approx(75.0)
    assert a["median_days"] == pytest.approx(np.median([2, 4, 4, 10]))
    b = per.filter(pl.col("department_id") == "b").row(0, named=True)
    assert (b["opened"], b["closed"], b["confirmed"], b["false_closure_rate"]) == (1, 1, 1, 100.0)
    assert per["department"].to_list() == ["Alpha", "Beta"]  # largest gap first
    # of a's 4 closures: 1 said no (case 3), 1 never asked (case 4), kept apart
    assert (a["said_no"], a["not_asked"]) == (1, 1)
    assert a["said_no_rate"] == pytest.approx(25.0) and a["not_asked_rate"] == pytest.approx(25.0)
    # Beta has 1 case: too few to compare with, so nothing is tested and nothing is said
    assert closed_loop.department_candidates(cases, j, min_n=5) == []
    assert closed_loop.headline(findings.decide([])) is None


def test_without_any_contact_repeat_contacts_are_unknown_not_zero():
    """With no contact imported, "Repeat contact 0%" was shown for every department: whether
    a customer came back is unknown, so a false closure is known only where the customer
    did not confirm, and neither count nor rate is given (by hand, the cases above)."""
    cases, j = tiny_cases(contacts_recorded=False)
    flags = dict(zip(cases["case_id"], cases["false_closure"], strict=True))
    # 1, 2, 6: confirmed, and whether they came back is unknown. 3: said no. 4: not asked.
    assert flags == {1: None, 2: None, 3: True, 4: True, 5: None, 6: None}
    assert cases.filter(pl.col("closed_on").is_not_null())["repeat_after_close"].null_count() == 5
    per = closed_loop.by_department(cases, j)
    for row in per.iter_rows(named=True):
        assert row["repeats"] is None and row["repeat_rate"] is None
        assert row["false_closures"] is None and row["false_closure_rate"] is None
    a = per.filter(pl.col("department_id") == "a").row(0, named=True)
    assert (a["opened"], a["closed"], a["confirmed"], a["gap"]) == (5, 4, 2, pytest.approx(40.0))
    text = closed_loop._sentence("Alpha", a, 0.0, 40.0, (1.0, 79.0), "")
    assert text.endswith("(not asked, or no answer).") and "were false" not in text
    assert closed_loop.repeats_unknown(cases)
    # contacts recorded at s2 only: its case 6 is known to have come back; s1's are unknown
    cases, j = tiny_cases(only_stage="s2")
    flags = dict(zip(cases["case_id"], cases["false_closure"], strict=True))
    assert flags == {1: None, 2: None, 3: True, 4: True, 5: None, 6: True}
    per = {r["department_id"]: r for r in closed_loop.by_department(cases, j).iter_rows(named=True)}
    assert per["a"]["repeat_rate"] is None and per["b"]["repeat_rate"] == pytest.approx(100.0)
    assert not closed_loop.repeats_unknown(tiny_cases()[0])


def loop_cases(spec: dict[str, tuple[int, int, int, int]]) -> pl.DataFrame:
    """Prepared cases by hand: per department (opened, closed, confirmed, said no); the
    rest of the closed cases were never asked."""
    rows = []
    for dept, (opened, closed, confirmed, said_no) in spec.items():
        for i in range(opened):
            is_closed = i < closed
            answer = (
                (True if i < confirmed else False if i < confirmed + said_no else None)
                if is_closed
                else None
            )
            rows.append(
                {
                    "department_id": dept,
                    "opened_on": D(2026, 1, 1),
                    "closed_on": D(2026, 1, 5) if is_closed else None,
                    "customer_confirmed": answer,
                    "confirmed": bool(is_closed and answer),
                    "repeat_after_close": False if is_closed else None,
                    "false_closure": (not answer) if is_closed else None,
                    "days_to_close": 4 if is_closed else None,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "department_id": pl.String,
            "opened_on": pl.Date,
            "closed_on": pl.Date,
            "customer_confirmed": pl.Boolean,
            "confirmed": pl.Boolean,
            "repeat_after_close": pl.Boolean,
            "false_closure": pl.Boolean,
            "days_to_close": pl.Int64,
        },
    )


def two_proportion_p(x1, n1, x2, n2) -> float:
    """Two-sided p of 'the first share is larger', with a continuity correction; 1 when the
    corrected difference is not positive."""
    pooled = (x1 + x2) / (n1 + n2)
    diff = x1 / n1 - x2 / n2 - 0.5 * (1 / n1 + 1 / n2)
    z = diff / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 2 * (1 - NormalDist().cdf(z)) if z > 0 else 1.0


def test_the_headline_names_a_department_only_when_its_gap_differs():
    j = tiny_journey()
    # a: 100 opened, 90 closed, 50 confirmed, 30 said no, 10 never asked -> 40 unconfirmed
    # b: 200 opened, 160 closed, 140 confirmed -> 20 unconfirmed
    cases = loop_cases({"a": (100, 90, 50, 30), "b": (200, 160, 140, 20)})
    found = {c.departments[0]: c for c in closed_loop.department_candidates(cases, j, 30)}
    assert found["a"].p == pytest.approx(two_proportion_p(40, 100, 20, 200))
    assert found["a"].effect == pytest.approx(100 * (0.4 - 0.1))
    assert found["b"].effect == pytest.approx(-30.0) and found["b"].q is None
    assert found["b"].p == 1.0  # a smaller gap is never claimed
    line = closed_loop.headline(findings.decide(found.values()))
    assert line.startswith("**Alpha** closed 90% of the 100 cases, but customers confirmed")
    assert "only 50% resolved: a gap of 40 points against 10 for the other departments (" in line
    assert "customers said 33% were not resolved and 11% were never confirmed" in line
    # the same departments with gaps 22 and 20 points: no difference worth a headline
    close = loop_cases({"a": (100, 90, 68, 10), "b": (200, 160, 120, 20)})
    kept = findings.decide(closed_loop.department_candidates(close, j, 30))
    assert kept == [] and closed_loop.headline(kept) is None


def test_the_headline_survives_a_department_with_no_closed_cases():
    j = tiny_journey()
    # a: 40 cases, none closed; b: 40 cases, 30 closed, 20 confirmed
    cases = loop_cases({"a": (40, 0, 0, 0), "b": (40, 30, 20, 5)})
    per = closed_loop.by_department(cases, j)
    a = per.filter(pl.col("department_id") == "a").row(0, named=True)
    assert a["closure_rate"] == 0.0 and a["false_closure_rate"] is None
    found = closed_loop.department_candidates(cases, j, 30)
    assert found[0].p == 1.0 and found[1].p == pytest.approx(two_proportion_p(10, 40, 0, 40))
    line = closed_loop.headline(findings.decide(found))
    assert line.startswith("**Beta** closed 75% of the 40 cases")
    alpha = next(c for c in found if c.departments == ("a",)).sentence
    assert "closed 0% of the 40 cases" in alpha and "closures" not in alpha


def test_the_headline_survives_no_confirmations_and_no_closure_dates():
    j = tiny_journey()
    # nobody was ever asked: every closure is unconfirmed
    never = loop_cases({"a": (40, 40, 0, 0), "b": (40, 20, 0, 0)})
    line = closed_loop.headline(findings.decide(closed_loop.department_candidates(never, j, 30)))
    assert line.startswith("**Alpha** closed 100% of the 40 cases")
    assert "customers said 0% were not resolved and 100% were never confirmed" in line
    # no case has a closing date: nothing differs, nothing is said, nothing breaks
    open_only = loop_cases({"a": (40, 0, 0, 0), "b": (40, 0, 0, 0)})
    found = closed_loop.department_candidates(open_only, j, 30)
    assert [c.p for c in found] == [1.0, 1.0]
    assert closed_loop.headline(findings.decide(found)) is None
    assert closed_loop.by_department(open_only, j)["median_days"].to_list() == [None, None]


def test_only_cases_old_enough_count():
    cases = loop_cases({"a": (3, 3, 3, 0)}).with_columns(
        pl.Series("opened_on", [D(2026, 1, 1), D(2026, 3, 1), D(2026, 3, 2)])
    )
    # data ending 30 Apr 2026: cases opened up to 1 Mar (60 days before) count
    assert closed_loop.mature_until(D(2026, 4, 30)) == D(2026, 3, 1)
    assert closed_loop.mature(cases, D(2026, 4, 30))["opened_on"].to_list() == [
        D(2026, 1, 1),
        D(2026, 3, 1),
    ]
    text = closed_loop.window_text(D(2026, 1, 1), D(2026, 4, 30))
    assert text.startswith("Only cases opened up to 1 Mar 2026 count")
    assert "30 days for a repeat contact" in text
    assert "not old enough" not in text
    late = closed_loop.window_text(D(2026, 3, 15), D(2026, 4, 30))
    assert late.startswith("No case opened in this period is old enough to count")


def test_closed_loop_view_follows_period_stage_department_and_segment():
    cases, _ = tiny_cases()

    def ids(f, stage_ids=None):
        return sorted(closed_loop.in_view(cases, f, stage_ids)["case_id"].to_list())

    assert ids(Filters(start=D(2026, 1, 1), end=D(2026, 1, 1))) == [1, 2, 6]
    assert ids(Filters(stages=("s2",)), ("s2",)) == [6]
    # a department filter keeps its stages' cases and the cases it handled elsewhere
    assert ids(Filters(departments=("a",)), ("s1",)) == [1, 2, 3, 4, 5]
    assert ids(Filters(segments=("y",))) == [4, 6]


# --- broken processes -----------------------------------------------------------------


def test_broken_processes_by_hand():
    cases, j = tiny_cases()
    cases = cases.sort("case_id").with_columns(  # values below are in case_id order
        pl.Series("root_cause", ["late", "late", "late", "rude", "late", "late"]),
        pl.Series("source", ["complaint", None, "complaint", None, None, "survey"]),
        pl.Series("response_id", [101, 102, 103, 104, 105, 106]),
    )
    complaints_now = pl.DataFrame(
        {
            "response_id": [101, 900],  # 101 has a case; 900 has none
            "stage_id": ["s1", "s2"],
            "touchpoint_id": ["t1", "t2"],
            "responded_on": [D(2026, 1, 1), D(2026, 1, 3)],
        }
    )
    previous = cases.filter(pl.col("case_id") == 1)
    out = complaints.broken_processes(
        cases, complaints_now, previous, complaints_now.head(0), j, D(2026, 1, 1), D(2026, 1, 14)
    )
    rows = {(r["touchpoint"], r["root_cause"]): r for r in out.iter_rows(named=True)}
    late = rows[("T1", "late")]
    assert (late["volume"], late["cases"], late["complaints"], late["previous"]) == (4, 4, 2, 1)
    assert late["change"] == pytest.approx(300.0)
    assert late["confirmed_rate"] == pytest.approx(50.0)  # cases 1 and 2 of 1, 2, 3, 5
    assert late["departments"] == "Alpha"
    # weeks (Mondays) 29 Dec, 5 Jan, 12 Jan: openings on 1, 1, 2 and 4 Jan
    assert late["trend"] == [4, 0, 0]
    uncased = rows[("T2", complaints.NO_CASE)]
    assert (uncased["volume"], uncased["cases"], uncased["complaints"]) == (1, 0, 1)
    assert uncased["departments"] == "–"
    assert out["volume"].to_list() == sorted(out["volume"].to_list(), reverse=True)


# --- leading indicators ---------------------------------------------------------------


def test_lagged_correlation_finds_a_planted_lag():
    rng = np.random.default_rng(3)
    weeks = 80
    contacts = 100 + rng.normal(0, 5, weeks)
    contacts[30:36] += 300
    nps = 20 + rng.normal(0, 2, weeks)
    nps[34:40] -= 40  # four weeks after the contacts rose
    corr = leading.lagged_correlations(np.diff(contacts), np.diff(nps))
    lag, r, pairs = max((c for c in corr if c[1] is not None), key=lambda c: abs(c[1]))
    assert lag == 4 and r < -0.5 and pairs == weeks - 1 - 4
    # a second implementation of Pearson's r at that lag
    x, y = np.diff(contacts)[:-4], np.diff(nps)[4:]
    by_hand = ((x - x.mean()) * (y - y.mean())).sum() / (
        np.sqrt(((x - x.mean()) ** 2).sum()) * np.sqrt(((y - y.mean()) ** 2).sum())
    )
    assert r == pytest.approx(by_hand)


def test_weeks_without_enough_answers_are_left_out():
    contacts = np.arange(20, dtype=float)
    nps = np.full(20, np.nan)
    assert all(r is None for _, r, _ in leading.lagged_correlations(contacts, nps))


def test_window_keeps_full_weeks_only():
    # Thursday 1 Jan 2026 to Wednesday 4 Mar 2026: full weeks from Monday 5 Jan to 23 Feb
    assert leading.window(D(2026, 1, 1), D(2026, 3, 4)) == (D(2026, 1, 5), D(2026, 2, 23))
    assert leading.window(D(2026, 1, 1), D(2026, 1, 3)) is None


def _ar1(rng, weeks: int, phi: float, scale: float = 1.0) -> np.ndarray:
    out = np.zeros(weeks)
    for t in range(1, weeks):
        out[t] = phi * out[t - 1] + rng.normal(0, scale)
    return out


def test_prewhitening_matches_least_squares_by_hand():
    rng = np.random.default_rng(11)
    weeks = 200
    series = 50 + 0.05 * np.arange(weeks) + _ar1(rng, weeks, 0.7, 3.0)
    resid = leading.prewhiten(series, max_order=1)
    # a second implementation: AR(1) with constant and trend by the normal equations
    t = np.arange(1, weeks)
    x = np.column_stack([np.ones(t.size), t / weeks, series[t - 1]])
    coef = np.linalg.solve(x.T @ x, x.T @ series[t])
    assert np.isnan(resid[0])
    np.testing.assert_allclose(resid[1:], series[t] - x @ coef, atol=1e-8)
    # the memory is gone: lag-1 autocorrelation near 0, where the series had about 0.7
    raw = np.corrcoef(series[:-1], series[1:])[0, 1]
    left = np.corrcoef(resid[1:-1], resid[2:])[0, 1]
    assert raw > 0.6 and abs(left) < 0.15


def test_prewhitening_leaves_out_unknown_weeks():
    rng = np.random.default_rng(12)
    series = 20 + _ar1(rng, 60, 0.5)
    series[[10, 30]] = np.nan
    resid = leading.prewhiten(series, max_order=1)
    assert np.isnan(resid[[0, 10, 11, 30, 31]]).all()  # unknown, or its week before is
    assert np.isfinite(np.delete(resid, [0, 10, 11, 30, 31])).all()


def test_permutation_test_finds_a_planted_lag_and_reports_pearson_r():
    rng = np.random.default_rng(3)
    weeks = 104
    contacts = 100 + rng.normal(0, 5, weeks)
    contacts[50:56] += 60
    nps = 20 + rng.normal(0, 2, weeks)
    nps[54:60] -= 8  # four weeks after the contacts rose
    ex, ey = leading.prewhiten(contacts), leading.prewhiten(nps)
    lag, r, pairs, p = leading.max_lag_test(ex, ey)
    assert lag == 4 and r < -0.3 and p == pytest.approx(1 / (1 + leading.PERMUTATIONS))
    # Pearson's r at that lag, by hand
    t = np.array([i for i in range(weeks - 4) if np.isfinite(ex[i]) and np.isfinite(ey[i + 4])])
    x, y = ex[t], ey[t + 4]
    by_hand = ((x - x.mean()) * (y - y.mean())).sum() / np.sqrt(
        ((x - x.mean()) ** 2).sum() * ((y - y.mean()) ** 2).sum()
    )
    assert pairs == t.size and r == pytest.approx(by_hand)
    assert leading.max_lag_test(ex, ey) == (lag, r, pairs, p)  # seeded by the data


def test_permutation_test_is_calibrated_on_unrelated_smooth_series():
    # Two unrelated series with strong memory: a plain t test on their correlation, or on
    # their week-over-week changes, calls far more than 5% of them significant.
    rng = np.random.default_rng(5)
    pvalues = []
    for _ in range(200):
        contacts = 150 + _ar1(rng, 104, 0.8, 10.0)
        nps = 20 + _ar1(rng, 104, 0.6, 5.0)
        test = leading.max_lag_test(leading.prewhiten(contacts), leading.prewhiten(nps))
        pvalues.append(test[3])
    below = sum(p <= 0.05 for p in pvalues)
    assert 2 <= below <= 18, f"{below} of 200 unrelated pairs at p <= 0.05 (expected about 10)"


def test_a_test_stops_early_only_where_its_p_value_is_far_above_any_kept(monkeypatch):
    """The two-stage test against the test of all 999 reorderings at once (the first stage
    as long as the whole): the same lag, r and pairs; the same p below 0.11; an early stop
    only where the whole test's p is above 0.05 too. Planted leads stay exact."""
    rng = np.random.default_rng(11)
    pairs = []
    for i in range(120):
        contacts = 150 + _ar1(rng, 104, 0.7, 10.0)
        nps = 20 + _ar1(rng, 104, 0.5, 5.0)
        if i % 4 == 0:  # a lead of three weeks
            nps[3:] -= 0.3 * (contacts[:-3] - 150)
        pairs.append((leading.prewhiten(contacts), leading.prewhiten(nps)))
    staged = [leading.max_lag_test(x, y) for x, y in pairs]
    # an early stop's p-value is never one a finding could be kept with
    assert (1 + leading.STOP_EXCEEDING) / (1 + leading.FIRST_PERMUTATIONS) > findings.FDR
    monkeypatch.setattr(leading, "FIRST_PERMUTATIONS", leading.PERMUTATIONS)
    whole = [leading.max_lag_test(x, y) for x, y in pairs]
    stopped = 0
    for two, one in zip(staged, whole, strict=True):
        assert two[:3] == one[:3]
        if two[3] < 0.11:
            assert two[3] == one[3]
        else:
            stopped += two[3] != one[3]
            assert one[3] > 0.05 and two[3] >= (1 + leading.STOP_EXCEEDING) / 100
    leads = sum(p < 0.11 for *_, p in staged)
    assert stopped > 60 and leads >= 30  # both stages were taken


def test_fisher_interval_by_hand():
    lo, hi = leading.fisher_interval(-0.5, 90)
    half = 1.96 / np.sqrt(87)
    assert lo == pytest.approx(np.tanh(np.arctanh(-0.5) - half))
    assert hi == pytest.approx(np.tanh(np.arctanh(-0.5) + half))
    assert leading.fisher_interval(0.3, 3) is None


# --- the sample company ---------------------------------------------------------------


@pytest.fixture(scope="module")
def story(story_data):
    ds = dataset.build(story_data.journey, story_data.customers, story_data.responses)
    contacts = dataset.compact_contacts(story_data.contacts, ds.journey, ds.customers)
    cases = closed_loop.prepare_for(ds, story_data.cases, contacts)
    return ds, contacts, cases, story_data


def test_customer_service_shows_the_closed_versus_confirmed_gap(story):
    ds, _, cases, raw = story
    f = Filters(start=ds.last_day - dt.timedelta(days=179), end=ds.last_day)
    per = closed_loop.by_department(
        closed_loop.mature(closed_loop.in_view(cases, f, None), ds.last_day), ds.journey
    )
    assert per["department_id"][0] == "service"
    service = per.row(0, named=True)
    # the same rates from the raw cases, with plain Polars
    mine = raw.cases.filter(
        (pl.col("department_id") == "service")
        & pl.col("opened_on").is_between(f.start, ds.last_day - dt.timedelta(days=60))
    )
    closed = mine.filter(pl.col("closed_on").is_not_null())
    confirmed = closed.filter(pl.col("customer_confirmed").fill_null(False)).height
    assert service["opened"] == mine.height
    assert service["closure_rate"] == pytest.approx(100 * closed.height / mine.height)
    assert service["confirmed_rate"] == pytest.approx(100 * confirmed / mine.height)
    assert service["gap"] >= 30
    others = per.filter(pl.col("department_id") != "service")
    assert (others["gap"] < service["gap"] - 10).all()


def test_the_closed_loop_sentence_names_the_others_it_compares_with(story):
    """Under a stage filter the other departments are those with cases on the stages in
    view, and the sentence says so; with no filter it speaks of the other departments."""
    ds, _, cases, _ = story
    f = Filters(start=ds.last_day - dt.timedelta(days=179), end=ds.last_day)
    whole = closed_loop.candidates(ds, f, cases)
    assert whole and all(
        "for the other departments (" in c.sentence or "other departments' " in c.sentence
        for c in whole
    )
    assert not any("stages in view" in c.sentence for c in whole)
    on_claim = closed_loop.candidates(ds, f.with_stages(("claim",)), cases)
    assert on_claim and all("on the stages in view" in c.sentence for c in on_claim)


def test_pay_contacts_lead_pay_nps(story):
    ds, contacts, _, _ = story
    f = Filters(end=ds.last_day)
    weekly = leading.weekly(ds, contacts, f)
    kept = findings.decide(leading.candidates(ds, contacts, f))
    # the planted episode: contacts rise from week 60, Pay NPS dips from week 63
    planted = sample.BILLING_NPS_WEEKS[0] - sample.BILLING_CONTACT_WEEKS[0]
    pay = [k for k in kept if k.stages == ("pay",)]
    assert len(pay) == 1 and pay[0].kind == "lead"
    (lead,) = pay
    assert lead.effect < 0 and lead.ci[0] < lead.effect < lead.ci[1] < 0
    assert lead.sentence.startswith(f"Pay & manage: contacts lead NPS by {planted} weeks")
    # r at that lag, by hand from the pre-whitened series
    pay_weeks = weekly.filter(pl.col("stage_id") == "pay").sort("week")
    ex = leading.prewhiten(pay_weeks["contacts"].cast(pl.Float64).to_numpy())
    ey = leading.prewhiten(pay_weeks["nps"].cast(pl.Float64).fill_null(np.nan).to_numpy())
    t = np.flatnonzero(np.isfinite(ex[:-planted]) & np.isfinite(ey[planted:]))
    assert lead.n == t.size
    assert lead.effect == pytest.approx(np.corrcoef(ex[t], ey[t + planted])[0, 1])
    # weekly Pay contacts, counted a second way from the raw contacts
    pay_tps = ds.journey.touchpoints.filter(pl.col("stage_id") == "pay")["touchpoint_id"]
    week = weekly.filter(pl.col("stage_id") == "pay").row(10, named=True)
    raw = story[3].contacts.filter(
        pl.col("touchpoint_id").is_in(pay_tps.implode())
        & pl.col("contacted_on").is_between(week["week"], week["week"] + dt.timedelta(days=6))
    )
    assert week["contacts"] == raw.height


def test_billing_complaints_rise_during_the_episode(story):
    ds, _, _, raw = story
    text = raw.responses.filter(pl.col("comment").is_not_null()).select(
        "response_id", pl.col("comment").alias("text")
    )
    v = voc.build(ds, raw.responses.select("response_id", "comment"))
    assert v.comments.height == text.height
    episode = Filters(start=D(2025, 11, 27), end=D(2026, 1, 28), stages=("pay",))
    before = episode.previous_period()
    now = voc.in_view(v, episode, ("pay",))
    then = voc.in_view(v, before, ("pay",))
    rising = voc.rising(now, then)
    up = rising.filter(pl.col("significant") & (pl.col("change") > 5))["theme"].to_list()
    assert up and rising["theme"][0] in up
    # the themes rising significantly hold the "charged twice" complaints
    twice = now.filter(pl.col("comment").str.contains("twice"))
    assert twice.height > 300
    assert twice.filter(pl.col("theme").cast(pl.String).is_in(up)).height >= 0.9 * twice.height
