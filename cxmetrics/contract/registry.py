"""Every metric as data: what it means, how it is computed, its unit and direction.

Tooltips, the glossary page, the CLI and the docs read these records; no page writes its
own definition of a metric.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_N = 30  # below this many answers a score is shown as "too few responses"


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    definition: str
    formula: str
    unit: str  # "points", "%", "1-7", "responses", "money", "customers"
    higher_is_better: bool | None  # None: neither (a volume)
    decimals: int
    short: str = ""

    def format(
        self, value: float | None, symbol: str | None = None, decimals: int | None = None
    ) -> str:
        """The value as shown; a money metric needs the company's currency ``symbol``
        (``Settings.currency_symbol``). ``decimals``: other than the metric's own, where a
        sentence needs them (``text.part_decimals``)."""
        if self.unit == "money":
            if symbol is None:
                raise TypeError(f"{self.key} is money: pass the company's currency symbol")
            return format_money(value, symbol)
        if value is None:
            return "–"
        # "z": a value that rounds to zero is "0", never "-0"; nor "+0" for an NPS
        text = f"{value:z,.{self.decimals if decimals is None else decimals}f}"
        if self.unit == "%":
            return f"{text}%"
        if self.key == "nps" and value > 0 and text.strip("0.,"):
            return f"+{text}"
        return text

    def help(self) -> str:
        """The tooltip: definition, formula, and the minimum-n rule."""
        return f"{self.definition}\n\nFormula: {self.formula}"


def format_money(value: float | None, symbol: str) -> str:
    """An amount with the company's currency symbol: £1.23m, €45k, $950; "–" when unknown."""
    if value is None:
        return "–"
    sign = "−" if value < 0 else ""
    v = abs(value)
    if v >= 1e6:
        return f"{sign}{symbol}{v / 1e6:,.2f}m"
    if v >= 1e4:
        return f"{sign}{symbol}{v / 1e3:,.0f}k"
    return f"{sign}{symbol}{v:,.0f}"


def short_money(value: float, symbol: str) -> str:
    """An amount in few characters, for a range on a tile's narrow line: £950, £6.2k, £30k,
    £1.2m, £15m."""
    sign = "−" if value < 0 else ""
    v = abs(value)
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        digits = 1 if v < 9.95 * size else 0  # rounded first: £999,600 is £1.0m, not £1,000k
        scaled = round(v / size, digits)
        if scaled >= 1:
            return f"{sign}{symbol}{scaled:,.{digits}f}{suffix}"
    return f"{sign}{symbol}{v:,.0f}"


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric(
            "nps",
            "Net Promoter Score",
            "How likely customers are to recommend us, 0-10. Promoters answer 9-10, passives "
            "7-8, detractors 0-6. Blank answers are left out of n. The ± is the 95% margin "
            f"of error; below n = {MIN_N} the score is not shown.",
            "NPS = 100 × (promoters − detractors) / n;  "
            "margin = 196 × √(deff × (p + d − (p − d)²) / n) with p, d the promoter and "
            "detractor shares and deff the design effect of customers who answer more than "
            "once (clustered variance over independent variance, on all data); never narrower "
            "than the Wilson intervals of p and d allow (so 40 promoters of 40 give ± 9, not 0)",
            "points",
            True,
            0,
            short="NPS",
        ),
        Metric(
            "csat",
            "Customer satisfaction (CSAT)",
            "Share of answers of 4 or 5 on the 1-5 satisfaction scale (top-2-box). Each "
            "answer counts: a customer who rates several touchpoints counts at each. Blank "
            "answers are left out of n.",
            "CSAT = 100 × (answers of 4 or 5) / n",
            "%",
            True,
            1,
            short="CSAT",
        ),
        Metric(
            "csat_top1",
            "CSAT top box",
            "Share of answers of 5 on the 1-5 satisfaction scale; each answer counts.",
            "CSAT top box = 100 × (answers of 5) / n",
            "%",
            True,
            1,
            short="CSAT top box",
        ),
        Metric(
            "ces",
            "Customer effort score (CES)",
            'Mean agreement with "the company made it easy" on a 1-7 scale (7 = very '
            "easy). Blank answers are left out of n.",
            "CES = Σ answers / n",
            "1-7",
            True,
            2,
            short="CES",
        ),
        Metric(
            "ces_easy",
            "CES: share finding it easy",
            "Share of customers who answered 5, 6 or 7 on the 1-7 effort scale.",
            "CES easy = 100 × (answers of 5-7) / n",
            "%",
            True,
            1,
            short="CES easy",
        ),
        Metric(
            "responses",
            "Responses",
            "Feedback records in view from every source: surveys, contact-centre notes, "
            "social posts and complaints, with or without a score.",
            "count of responses",
            "responses",
            None,
            0,
            short="Responses",
        ),
        Metric(
            "churn",
            "Churn",
            "Share of the customers in view (those who gave feedback in the period) who "
            "left during the period.",
            "churn = 100 × customers in view with a churn date in the period / customers in view",
            "%",
            False,
            1,
            short="Churn",
        ),
        Metric(
            "revenue_at_risk",
            "Revenue at risk",
            "What being a detractor costs a year: the annual revenue of today's detractors "
            "(customers whose latest NPS answer in the period is 0-6 and who are still "
            "customers) times the annual churn that detractors have over and above everyone "
            "else. Annual churn = customers who left ÷ customer-years as a customer within "
            "the data's dates; detractors are customers whose latest answer on any date is "
            "0-6, everyone else those whose latest answer is 7-10. Shown as a 95% range (from "
            "the uncertainty of both rates) when the range is wider than ±25% of the value.",
            "revenue at risk = Σ annual revenue of current detractors × max(0, detractors' "
            "churned ÷ detractors' customer-years − others' churned ÷ others' customer-years)",
            "money",
            False,
            0,
            short="Revenue at risk",
        ),
        Metric(
            "points_at_stake",
            "NPS points at stake",
            "How far overall NPS sits below where it would be if the answers at a touchpoint "
            "matched the rest of its stage: an association measured in the data, not a "
            "promised gain. A touchpoint is a strong moment of truth only when its NPS differs "
            "from the rest of its stage by a test kept after Benjamini-Hochberg over the "
            "touchpoints; both sides need the minimum n.",
            "points at stake = (NPS of the rest of the stage − NPS of the touchpoint) × NPS "
            "answers at the touchpoint ÷ all NPS answers in view",
            "points",
            None,
            2,
            short="Points at stake",
        ),
        Metric(
            "silo_score",
            "Silo score",
            "A department's own scorecard: the share of its KPI-weeks in the period that met "
            "target. It is green when there are at least 13 KPI-weeks and the share's 95% "
            "Wilson interval lies above 75%.",
            "silo score = 100 × KPI-weeks on target / KPI-weeks",
            "%",
            True,
            0,
            short="Silo score",
        ),
        Metric(
            "false_positive",
            "False positive",
            "A department whose own scorecard is green while the customer's experience of "
            "its stages is red. Stages are weighted by its role: lead 1, contributor 1/2; a "
            "stage is below target only when its whole NPS interval (allowing for customers "
            "who answer more than once) lies below the target. One test per department "
            "(the larger p-value of the two parts, the stage part Bonferroni-corrected over "
            "its stages), Benjamini-Hochberg over the departments in view.",
            "false positive = at least 13 KPI-weeks, silo score's 95% lower bound > 75%, and "
            "more than half of its role-weighted stages below their NPS target",
            "yes/no",
            False,
            0,
            short="False positive",
        ),
        Metric(
            "satisfied_at_risk",
            "Satisfied but at risk",
            "Customers whose latest satisfaction answer in view is 4-5 but whose latest NPS "
            "answer is 0-8 (passive or detractor), or who left during the period; as a share "
            "of the satisfied. Of several answers on a customer's last day, the one with the "
            "last response id counts as the latest.",
            "at risk = 100 × satisfied customers (CSAT 4-5) with NPS 0-8 or gone / satisfied "
            "customers",
            "%",
            False,
            1,
            short="Satisfied at risk",
        ),
        Metric(
            "closure_rate",
            "Closure rate",
            "The share of cases opened in the period that the department has closed.",
            "closure rate = 100 × closed cases / cases opened",
            "%",
            True,
            0,
            short="Closed",
        ),
        Metric(
            "confirmed_rate",
            "Customer-confirmed resolution rate",
            "The share of cases opened in the period that are closed and that the customer "
            "confirmed as resolved. Cases where the customer said no, was not asked or did "
            "not answer do not count.",
            "confirmed rate = 100 × closed cases confirmed by the customer / cases opened",
            "%",
            True,
            0,
            short="Confirmed",
        ),
        Metric(
            "closure_gap",
            "Closed-versus-confirmed gap",
            "How far a department's closures run ahead of what customers confirm: the cases "
            "closed without the customer's confirmation, as points of the cases opened.",
            "gap = closure rate − customer-confirmed resolution rate",
            "points",
            False,
            0,
            short="Gap",
        ),
        Metric(
            "false_closure_rate",
            "False-closure rate",
            "The share of closed cases that were not really resolved: the customer did not "
            "confirm the resolution, or contacted us again about the same stage within 30 "
            "days after the case was closed.",
            "false-closure rate = 100 × closed cases (not confirmed, or a repeat contact on "
            "the same stage within 30 days of closing) / closed cases",
            "%",
            False,
            0,
            short="False closures",
        ),
        Metric(
            "sentiment",
            "Comment sentiment",
            "The tone of a comment, scored by VADER (a lexicon- and rule-based model for "
            "short English texts) from −1 (most negative) to +1 (most positive). Positive "
            "from +0.05, negative from −0.05, neutral between. Where the source labelled the "
            "comment itself (positive, neutral or negative), its label is used instead. "
            "It reads words of feeling: a factual complaint ('the debit was taken twice') "
            "scores neutral, so a theme's NPS can be low with few negative comments; read "
            "the NPS beside it for how customers rate what the comments describe.",
            "sentiment = +1 / 0 / −1 from the source's label if set, else the VADER compound "
            "score of the comment (masked text)",
            "−1 to +1",
            True,
            2,
            short="Sentiment",
        ),
        Metric(
            "theme",
            "Comment theme",
            "Topics found in the comments themselves, not a fixed list: TF-IDF weights of the "
            "words, factorised into themes by non-negative matrix factorisation (NMF). A "
            "theme is named by its three strongest words; each comment belongs to its "
            "strongest theme. @handles, links, numbers and the company's own account names "
            "are left out; a hashtag counts as its word. Fitted once, on the first comments a "
            "database receives; later comments are placed in the stored themes "
            "(`analyse-comments --all` fits them anew).",
            "theme = argmax over themes of the comment's NMF weights",
            "label",
            None,
            0,
            short="Theme",
        ),
        Metric(
            "contact_lead",
            "Contacts leading NPS",
            "Whether contact volume at a stage warns of its NPS: the correlation between "
            "weekly contacts and NPS 1-8 weeks later, after each series is pre-whitened (its "
            "own autoregression and trend taken out). The lead is the lag with the strongest "
            "correlation; a permutation test of that maximum corrects for the eight lags, and "
            "Benjamini-Hochberg over the stages tested keeps the false discovery rate at 5%. "
            "Contacts lead NPS when that finding is kept and r is negative.",
            "r(lag) = correlation(e_contacts(t), e_NPS(t + lag)), e = residual of an AR(p) "
            "with trend, lag 1-8; p = share of 999 reorderings with max |r| as large (of "
            "the first 99 when 10 of them already are: p >= 0.11)",
            "weeks",
            None,
            0,
            short="Lead",
        ),
    )
}
