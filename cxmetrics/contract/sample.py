"""A deterministic sample insurance company: customers, responses, contacts, cases, KPIs.

The generated data holds the stories described in ``sample_data/README.md`` so that the
dashboard has true things to find. Everything is vectorised with NumPy: one million
responses take a few seconds. The same ``seed`` always gives the same data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from cxmetrics.contract import settings
from cxmetrics.contract.journey import SAMPLE_DIR, Journey, read_journey_dir, read_kpi_definitions

Progress = Callable[[float, str], None]

DEFAULT_CUSTOMERS = 25_000
DEFAULT_SEED = 42
DEFAULT_END = dt.date(2026, 9, 30)
DAYS = 728  # 104 weeks
RESPONSES_PER_CUSTOMER = 10.0  # over two years, for a customer active the whole time

SEGMENTS = ("Personal", "Small business", "Premier")
SEGMENT_SHARES = (0.70, 0.20, 0.10)
REGIONS = ("North", "South", "East", "West")
STAGE_WEIGHTS = {"shop": 0.12, "buy": 0.12, "pay": 0.24, "help": 0.20, "claim": 0.16, "renew": 0.16}
# Billing-error episode: contacts rise from week 60, NPS dips from week 63.
BILLING_CONTACT_WEEKS = (60, 66)
BILLING_NPS_WEEKS = (63, 69)
CLAIMS_DECLINE_DAYS = 182  # the last two quarters
# Share of weeks each department's own KPIs meet target. They differ, and all but Claims'
# (every week: the silo's scorecard is green) sit well below a green scorecard.
KPI_HIT_RATES = {
    "marketing": 0.62,
    "sales": 0.70,
    "underwriting": 0.66,
    "billing": 0.64,
    "service": 0.58,
    "claims": 1.0,
    "digital": 0.68,
    "pricing": 0.55,
}
# Without stories every department meets its KPIs in the same, unremarkable share of weeks.
KPI_HIT_RATE_NO_STORY = 0.60


@dataclass(frozen=True)
class SampleAction:
    """An action plan of the sample company; days are counted back from the last day."""

    action_id: str
    department_id: str
    stage_id: str
    touchpoint_id: str
    title: str
    metric: str
    target: float
    start_days_before_end: int
    due_days_after_start: int
    status: str
    notes: str
    effect: float = 0.0  # what the generator adds to the metric from the start (stories on)


#: The sample's action plans: one that truly works (effort at self-service falls from its
#: start: CES + 0.8 before rounding, only with stories on), one with no
#: effect, one started too recently to judge. Effects touch CES only, which nothing else in
#: the generator reads, so the other stories and every random draw stay as they were.
SAMPLE_ACTIONS = (
    SampleAction(
        "A-0001",
        "digital",
        "help",
        "help_self_service",
        "Rewrite the self-service help pages around customers' questions",
        "ces",
        6.0,
        150,
        90,
        "done",
        "Forty pages merged into twelve; search added.",
        effect=0.8,
    ),
    SampleAction(
        "A-0002",
        "marketing",
        "renew",
        "renew_notice",
        "Rewrite the renewal notice in plain language",
        "nps",
        0.0,
        150,
        120,
        "in progress",
        "New wording sent to every renewing customer since the start date.",
    ),
    SampleAction(
        "A-0003",
        "claims",
        "claim",
        "claim_updates",
        "Text every claimant a status update every five days",
        "nps",
        10.0,
        14,
        150,
        "in progress",
        "",
    ),
)


def actions_frame(end: dt.date = DEFAULT_END) -> pl.DataFrame:
    """The sample's action plans as rows of the ``actions`` table."""
    rows = []
    for a in SAMPLE_ACTIONS:
        start = end - dt.timedelta(days=a.start_days_before_end)
        rows.append(
            {
                "action_id": a.action_id,
                "department_id": a.department_id,
                "stage_id": a.stage_id,
                "touchpoint_id": a.touchpoint_id,
                "title": a.title,
                "metric": a.metric,
                "target": a.target,
                "start_on": start,
                "due_on": start + dt.timedelta(days=a.due_days_after_start),
                "status": a.status,
                "notes": a.notes or None,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"notes": pl.String})


def action_changes_frame(actions: pl.DataFrame) -> pl.DataFrame:
    """One 'created' line per sample action, dated its start."""
    return actions.select(
        "action_id",
        pl.col("start_on").cast(pl.Datetime("us")).alias("changed_at"),
        pl.lit("sample generator").alias("changed_by"),
        pl.format("created: {} ({})", pl.col("title"), pl.col("status")).alias("change"),
    )


@dataclass(frozen=True)
class SampleData:
    journey: Journey
    customers: pl.DataFrame
    responses: pl.DataFrame
    contacts: pl.DataFrame
    cases: pl.DataFrame
    kpis: pl.DataFrame
    actions: pl.DataFrame | None = None

    def tables(self) -> dict[str, pl.DataFrame]:
        j = self.journey
        return {
            "stages": j.stages,
            "touchpoints": j.touchpoints,
            "departments": j.departments,
            "stage_owners": j.stage_owners,
            "targets": j.targets,
            "customers": self.customers,
            "responses": self.responses,
            "contacts": self.contacts,
            "cases": self.cases,
            "kpis": self.kpis,
            "incentives": j.incentives,
            "settings": settings.frame(SETTINGS),
            **(
                {
                    "actions": self.actions,
                    "action_changes": action_changes_frame(self.actions),
                }
                if self.actions is not None
                else {}
            ),
        }


#: The sample company's settings: pounds sterling, and its executives' usual quarter view.
SETTINGS = {
    "company_name": "Sample Home & Motor Insurance",
    "currency": "GBP",
    "default_period": "90d",
}


def _no_progress(_fraction: float, _message: str) -> None:
    return None


# Per-touchpoint quality, in the latent "experience" units (1 unit ~ 1.6 NPS scale points).
_TOUCHPOINT_QUALITY = {
    "shop_quote_form": 0.20,
    "shop_compare": 0.10,
    "shop_agent_quote": 0.35,
    "shop_price_check": -0.35,
    "buy_purchase": 0.30,
    "buy_documents": -0.20,
    "buy_welcome": 0.25,
    "buy_first_login": -0.10,
    "pay_first_bill": -0.25,
    "pay_direct_debit": 0.15,
    "pay_update_details": 0.00,
    "pay_billing_error": -0.70,
    "pay_change_cover": -0.05,
    "help_call": -0.10,
    "help_chat": 0.05,
    "help_self_service": -0.15,
    "help_complaint": -0.90,
    "claim_report": 0.05,
    "claim_assessment": -0.15,
    "claim_updates": -0.35,
    "claim_settlement": 0.10,
    "claim_repair": 0.00,
    "renew_notice": -0.45,
    "renew_conversation": 0.00,
    "renew_cancel": -0.60,
}

# Comment phrases per stage and tone (positive, neutral, negative), so that themes found by
# the text analysis line up with the journey. Some carry personal details to be masked.
_COMMENTS = {
    "shop": (
        ["Getting a quote online was quick and easy.", "Clear cover options and a fair price."],
        ["The quote form asked for a lot of details.", "Comparing cover levels took a while."],
        [
            "The price changed at checkout from the quote I was given.",
            "The quote was far more expensive than the comparison site.",
            "Cover options were confusing and the website did not explain them.",
        ],
    ),
    "buy": (
        ["Buying the policy took five minutes.", "The welcome pack was clear and friendly."],
        ["Documents arrived a few days later than promised.", "Setting up my account was OK."],
        [
            "My policy documents never arrived.",
            "I could not log in to my new account for a week.",
            "The app kept logging me out and I gave up.",
        ],
    ),
    "pay": (
        ["Direct debit set up without any fuss.", "Paying my premium in the app is simple."],
        ["My first bill was a little confusing.", "Changing my payment date took two attempts."],
        [
            "You charged me twice and it took weeks to refund.",
            "The direct debit was taken twice this month.",
            "My premium went up after a change and nobody explained the bill.",
        ],
    ),
    "help": (
        [
            "The person I spoke to was friendly and sorted it straight away.",
            "The chat agent answered my question in minutes.",
        ],
        [
            "Average experience. Call me on 07700 900123 if you need details.",
            "Found the answer online in the end.",
        ],
        [
            "Waited on hold for 40 minutes.",
            "Promised a call back that never came. Email me at jo.bloggs@example.com.",
            "I had to call three times before anyone helped.",
        ],
    ),
    "claim": (
        [
            "My claim was settled quickly and fairly.",
            "Kept me informed at every step of the claim.",
        ],
        ["The claim took longer than I expected but got there.", "The assessor was polite."],
        [
            "Nobody told me what was happening with my claim.",
            "No update on my claim for weeks despite chasing.",
            "The assessor did not turn up to the appointment.",
            "The settlement offer was far below the repair cost.",
        ],
    ),
    "renew": (
        ["Renewal was automatic and the price stayed fair.", "Much better than my last insurer."],
        ["The renewal letter was fine, nothing special.", "Renewed, but I will shop around."],
        [
            "The renewal price went up for no reason.",
            "The retention offer I was promised was not honoured.",
            "Cancelling my policy was a nightmare of phone calls.",
        ],
    ),
}
_BILLING_COMPLAINTS = (
    "You charged me twice and it took weeks to refund.",
    "The direct debit was taken twice this month.",
)

_ROOT_CAUSES = {
    "shop": ["Quote price changed at checkout", "Cover options unclear"],
    "buy": ["Document checks delayed", "Account set-up failed"],
    "pay": ["Direct debit taken twice", "Wrong premium after a change", "Bill sent late"],
    "help": ["Long hold times", "Call back not made", "Answer not found online"],
    "claim": ["No status update", "Assessor appointment delayed", "Settlement below expectation"],
    "renew": ["Unexplained price rise", "Retention offer not honoured"],
}


def generate(
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    end: dt.date = DEFAULT_END,
    progress: Progress = _no_progress,
    stories: bool = True,
) -> SampleData:
    """Generate the sample company's data. Deterministic for a given seed and size.

    ``stories=False`` gives the same company with none of the planted stories: no trend, no
    episode, no segment, channel, influencer or department effect (touchpoints still differ
    in quality). Calibration tests use it as data in which those claims cannot be true.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    rng = np.random.default_rng(seed)
    journey, channels = read_journey_dir(SAMPLE_DIR)
    start = end - dt.timedelta(days=DAYS - 1)
    epoch = np.datetime64(start, "D")

    progress(0.02, "customers")
    story = 1.0 if stories else 0.0
    cust = _customers(rng, customers, start, story)
    progress(0.15, "responses")
    resp = _responses(rng, cust, journey, channels, start, story)
    progress(0.55, "comments")
    resp_frame = _response_frame(rng, resp, journey, epoch, story)
    progress(0.70, "cases and contacts")
    case_frame, repeat = _cases(rng, resp_frame, journey, epoch, story)
    contact_frame = _contacts(rng, cust, journey, channels, start, repeat, epoch, story)
    progress(0.85, "department KPIs")
    kpi_frame = _kpis(rng, start, story)
    customer_frame = pl.DataFrame(
        {
            "customer_id": cust["id"],
            "segment": np.array(SEGMENTS)[cust["segment"]],
            "region": np.array(REGIONS)[cust["region"]],
            "joined_on": (epoch + cust["joined"]).astype("datetime64[D]"),
            "annual_revenue": cust["revenue"],
            "cost_to_serve": cust["cost"],
            "influence": cust["influence"],
            "churned_on": np.where(
                cust["churned"], epoch + cust["churn_day"], np.datetime64("NaT")
            ).astype("datetime64[D]"),
        }
    ).with_columns(pl.col("joined_on").cast(pl.Date), pl.col("churned_on").cast(pl.Date))
    progress(1.0, "done")
    return SampleData(
        journey,
        text_ids(customer_frame),
        text_ids(resp_frame),
        text_ids(contact_frame),
        text_ids(case_frame),
        kpi_frame,
        actions_frame(end),
    )


ID_COLUMNS = ("customer_id", "response_id", "contact_id", "case_id")


def text_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """The contract's ids are text: the generator's numbers written as their digits."""
    return frame.with_columns(pl.col(c).cast(pl.String) for c in ID_COLUMNS if c in frame.columns)


def _customers(
    rng: np.random.Generator, n: int, start: dt.date, story: float = 1.0
) -> dict[str, np.ndarray]:
    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARES)
    region = rng.integers(0, len(REGIONS), size=n)
    existing = rng.random(n) < 0.75
    joined = np.where(existing, -rng.integers(30, 365 * 6, size=n), rng.integers(0, DAYS - 60, n))
    mean_revenue = np.array([650.0, 2400.0, 3600.0])[segment]
    revenue = np.round(mean_revenue * rng.lognormal(-0.08, 0.4, size=n), 2)
    cost = np.round(revenue * rng.uniform(0.35, 1.30, size=n), 2)
    influence = np.round(100 * rng.beta(0.7, 3.0, size=n), 1)
    mood = rng.normal(0.0, 0.75, size=n)
    small_business = segment == 1
    # Loyalty drives churn; small businesses leave far more often whatever their satisfaction.
    logit = -2.1 - 0.9 * mood + story * 1.5 * small_business
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    active_from = np.maximum(joined, 0)
    churn_day = active_from + 30 + (rng.random(n) * np.maximum(DAYS - 31 - active_from, 1))
    churn_day = np.minimum(churn_day.astype(np.int64), DAYS - 1)
    return {
        "id": np.arange(1, n + 1, dtype=np.int64),
        "segment": segment,
        "region": region,
        "joined": joined.astype(np.int64),
        "revenue": revenue,
        "cost": cost,
        "influence": influence,
        "mood": mood,
        "churned": churned,
        "churn_day": churn_day,
        "active_from": active_from.astype(np.int64),
    }


def _responses(
    rng, cust, journey: Journey, channels: pl.DataFrame, start: dt.date, story: float = 1.0
) -> dict:
    active_to = np.where(cust["churned"], cust["churn_day"], DAYS - 1)
    span = np.maximum(active_to - cust["active_from"] + 1, 1)
    counts = rng.poisson(RESPONSES_PER_CUSTOMER * span / DAYS)
    owner = np.repeat(np.arange(len(cust["id"])), counts)
    m = owner.size
    day = cust["active_from"][owner] + (rng.random(m) * span[owner]).astype(np.int64)

    tps = journey.touchpoints.join(journey.stages.select("stage_id", "position"), on="stage_id")
    tps = tps.sort(["position", "touchpoint_id"]).join(channels, on="touchpoint_id", how="left")
    tp_ids = tps["touchpoint_id"].to_list()
    tp_stage = tps["stage_id"].to_list()
    per_stage = {s: tp_stage.count(s) for s in set(tp_stage)}
    weights = np.array([STAGE_WEIGHTS.get(s, 0.1) / per_stage[s] for s in tp_stage])
    tp = rng.choice(len(tp_ids), size=m, p=weights / weights.sum())

    all_channels = ["web", "mobile", "phone", "agent"]
    allowed = [row if row else all_channels for row in tps["channels"].to_list()]
    pick = rng.random(m)
    n_allowed = np.array([len(a) for a in allowed])[tp]
    slot = (pick * n_allowed).astype(np.int64)
    lookup = np.full((len(tp_ids), 4), -1, dtype=np.int64)
    for i, chans in enumerate(allowed):
        for j, c in enumerate(chans):
            lookup[i, j] = all_channels.index(c)
    channel = lookup[tp, slot]

    stage_of = np.array(tp_stage)[tp]
    week = day // 7
    quality = np.array([_TOUCHPOINT_QUALITY.get(t, 0.0) for t in tp_ids])[tp]
    experience = quality + cust["mood"][owner] + rng.normal(0.0, 1.1, size=m)
    # Story: File a claim declines over the last two quarters while Claims' KPIs stay green.
    claim = stage_of == "claim"
    progress_in_decline = np.clip((day - (DAYS - CLAIMS_DECLINE_DAYS)) / CLAIMS_DECLINE_DAYS, 0, 1)
    experience -= story * claim * 1.5 * progress_in_decline
    # Story: the billing-error episode hurts Pay after contacts have already risen.
    pay = stage_of == "pay"
    dip = (week >= BILLING_NPS_WEEKS[0]) & (week < BILLING_NPS_WEEKS[1])
    experience -= story * pay * dip * 1.1
    # Story: high-influence customers are unhappy at renewal.
    influencer = cust["influence"][owner] >= np.quantile(cust["influence"], 0.9)
    experience -= story * (stage_of == "renew") * influencer * 1.6

    nps = np.clip(np.rint(8.35 + 1.55 * experience), 0, 10)
    small_business = cust["segment"][owner] == 1
    csat = np.clip(
        np.rint(4.15 + 0.55 * experience + story * 0.45 * small_business + rng.normal(0, 0.35, m)),
        1,
        5,
    )
    mobile = channel == all_channels.index("mobile")
    ces_raw = 5.55 + 0.75 * experience - story * 1.3 * mobile + rng.normal(0, 0.5, m)
    # Story: the actions that work move their metric from their start date (CES only).
    tp_of = np.array(tp_ids)[tp]
    for a in SAMPLE_ACTIONS:
        if a.effect and a.metric == "ces":
            from_day = DAYS - 1 - a.start_days_before_end
            ces_raw += story * a.effect * ((tp_of == a.touchpoint_id) & (day >= from_day))
    ces = np.clip(np.rint(ces_raw), 1, 7)

    source = rng.choice(4, size=m, p=[0.82, 0.08, 0.05, 0.05])
    # Survey questions are optional: blanks are common; complaints and social posts have
    # no scores at all.
    survey = source == 0
    contact_centre = source == 1
    has_nps = survey & (rng.random(m) < 0.85)
    has_csat = (survey & (rng.random(m) < 0.75)) | (contact_centre & (rng.random(m) < 0.6))
    has_ces = survey & (rng.random(m) < 0.65)
    order = np.lexsort((owner, day))
    return {
        "customer": cust["id"][owner][order],
        "tp": np.array(tp_ids)[tp][order],
        "stage": stage_of[order],
        "channel": np.array(all_channels)[channel][order],
        "day": day[order],
        "nps": np.where(has_nps, nps, -1)[order],
        "csat": np.where(has_csat, csat, -1)[order],
        "ces": np.where(has_ces, ces, -1)[order],
        "experience": experience[order],
        "source": source[order],
    }


def _response_frame(rng, r: dict, journey: Journey, epoch, story: float = 1.0) -> pl.DataFrame:
    m = r["day"].size
    sources = np.array(["survey", "contact_center", "social", "complaint"])
    wants_comment = (r["source"] != 0) | (rng.random(m) < 0.35)
    tone = np.where(r["experience"] > 0.6, 0, np.where(r["experience"] > -0.4, 1, 2))
    tone = np.where(r["source"] == 3, 2, tone)  # complaints are negative
    pick = rng.random(m)
    stages = list(_COMMENTS)
    flat = [c for s in stages for group in _COMMENTS[s] for c in group]
    cells = [(s, t) for s in stages for t in range(3)]
    sizes = np.array([len(_COMMENTS[s][t]) for s, t in cells])
    offsets = np.cumsum(np.concatenate([[0], sizes]))[:-1]
    stage_no = np.array([stages.index(s) if s in stages else 0 for s in np.unique(r["stage"])])
    stage_code = stage_no[np.unique(r["stage"], return_inverse=True)[1]]
    cell = stage_code * 3 + tone
    idx = offsets[cell] + (pick * sizes[cell]).astype(np.int64)
    # During the billing episode, Pay complaints are about being charged twice.
    week = r["day"] // 7
    billing = (
        bool(story)
        & (r["stage"] == "pay")
        & (tone == 2)
        & (week >= BILLING_CONTACT_WEEKS[0])
        & (week < BILLING_NPS_WEEKS[1])
    )
    first_billing = flat.index(_BILLING_COMPLAINTS[0])
    idx = np.where(billing, first_billing + (pick * 2).astype(np.int64), idx)
    assert flat[first_billing + 1] == _BILLING_COMPLAINTS[1]
    comment = np.where(wants_comment, idx, -1)
    frame = pl.DataFrame(
        {
            "response_id": np.arange(1, m + 1, dtype=np.int64),
            "customer_id": r["customer"],
            "touchpoint_id": r["tp"],
            "channel": r["channel"],
            "responded_on": (epoch + r["day"]).astype("datetime64[D]"),
            "nps": r["nps"].astype(np.int16),
            "csat": r["csat"].astype(np.int16),
            "ces": r["ces"].astype(np.int16),
            "comment_idx": comment,
            "source": sources[r["source"]],
        }
    )
    lookup = pl.DataFrame({"comment_idx": np.arange(len(flat)), "comment": flat})
    frame = frame.join(lookup, on="comment_idx", how="left", maintain_order="left")
    return frame.with_columns(
        pl.col("responded_on").cast(pl.Date),
        *[
            pl.when(pl.col(c) >= 0).then(pl.col(c)).cast(pl.Int16).alias(c)
            for c in ("nps", "csat", "ces")
        ],
    ).select(
        "response_id",
        "customer_id",
        "touchpoint_id",
        "channel",
        "responded_on",
        "nps",
        "csat",
        "ces",
        "comment",
        "source",
    )


def _cases(rng, responses: pl.DataFrame, journey: Journey, epoch, story: float = 1.0):
    """Cases from complaints and strong detractors; Customer Service closes but rarely fixes."""
    stage_of = journey.touchpoints.select("touchpoint_id", "stage_id")
    leads = journey.stage_owners.filter(pl.col("role") == "lead").select(
        "stage_id", pl.col("department_id").alias("lead")
    )
    base = responses.filter(
        (pl.col("source") == "complaint") | (pl.col("nps").is_not_null() & (pl.col("nps") <= 3))
    ).select("response_id", "customer_id", "touchpoint_id", "responded_on")
    base = base.join(stage_of, on="touchpoint_id").join(leads, on="stage_id", how="left")
    n = base.height
    to_service = (rng.random(n) < 0.5) | (base["stage_id"] == "help").to_numpy()
    department = np.where(to_service, "service", base["lead"].to_numpy())
    opened = base["responded_on"].to_numpy().astype("datetime64[D]") + rng.integers(0, 3, n)
    # Story: Customer Service closes more, and faster, but the customer confirms less.
    service = (department == "service") & bool(story)
    closed = rng.random(n) < np.where(service, 0.93, 0.82)
    close_days = rng.geometric(np.where(service, 0.35, 0.12), size=n)
    confirmed_draw = rng.random(n)
    confirmed = np.where(
        service,
        np.where(confirmed_draw < 0.60, 1, np.where(confirmed_draw < 0.90, 0, -1)),
        np.where(confirmed_draw < 0.78, 1, np.where(confirmed_draw < 0.92, 0, -1)),
    )
    confirmed = np.where(closed, confirmed, -1)
    causes = base["stage_id"].to_list()
    cause_pick = rng.random(n)
    root = [
        _ROOT_CAUSES.get(s, ["Other"])[int(p * len(_ROOT_CAUSES.get(s, ["Other"])))]
        for s, p in zip(causes, cause_pick, strict=True)
    ]
    last = epoch + (DAYS - 1)
    closed_on = opened + close_days
    closed = closed & (closed_on <= last)
    frame = (
        pl.DataFrame(
            {
                "case_id": np.arange(1, n + 1, dtype=np.int64),
                "response_id": base["response_id"],
                "customer_id": base["customer_id"],
                "touchpoint_id": base["touchpoint_id"],
                "department_id": department,
                "opened_on": np.minimum(opened, last).astype("datetime64[D]"),
                "closed_on": np.where(closed, closed_on, np.datetime64("NaT")).astype(
                    "datetime64[D]"
                ),
                "root_cause": root,
                "confirmed": confirmed,
            }
        )
        .with_columns(
            pl.col("opened_on").cast(pl.Date),
            pl.col("closed_on").cast(pl.Date),
            pl.when(pl.col("confirmed") >= 0)
            .then(pl.col("confirmed") == 1)
            .alias("customer_confirmed"),
        )
        .drop("confirmed")
    )
    # False closure: the customer comes back within 30 days when the fix was not confirmed.
    not_fixed = closed & (confirmed != 1)
    comes_back = not_fixed & (rng.random(n) < 0.65) | (
        closed & (confirmed == 1) & (rng.random(n) < 0.08)
    )
    repeat = pl.DataFrame(
        {
            "customer_id": base["customer_id"].to_numpy()[comes_back],
            "touchpoint_id": base["touchpoint_id"].to_numpy()[comes_back],
            "day": (
                (closed_on[comes_back] - epoch).astype(np.int64)
                + rng.integers(1, 30, int(comes_back.sum()))
            ),
        }
    ).filter(pl.col("day") < DAYS)
    return frame, repeat


def _contacts(
    rng, cust, journey, channels, start, repeat: pl.DataFrame, epoch, story: float = 1.0
) -> pl.DataFrame:
    n = cust["id"].size
    per_customer = rng.poisson(3.0, size=n)
    owner = np.repeat(np.arange(n), per_customer)
    m = owner.size
    day = rng.integers(0, DAYS, size=m)
    contact_weights = {
        "shop": 0.08,
        "buy": 0.10,
        "pay": 0.22,
        "help": 0.30,
        "claim": 0.20,
        "renew": 0.10,
    }
    tps = journey.touchpoints.select("touchpoint_id", "stage_id")
    tp_ids = tps["touchpoint_id"].to_list()
    tp_stage = tps["stage_id"].to_list()
    per_stage = {s: tp_stage.count(s) for s in set(tp_stage)}
    w = np.array([contact_weights.get(s, 0.1) / per_stage[s] for s in tp_stage])
    tp = rng.choice(len(tp_ids), size=m, p=w / w.sum())
    # Billing episode: a surge of Pay contacts before Pay NPS dips.
    weeks = BILLING_CONTACT_WEEKS
    extra = int(n * 0.12 * story)
    extra_day = rng.integers(weeks[0] * 7, weeks[1] * 7, size=extra)
    extra_owner = rng.integers(0, n, size=extra)
    # Claims: contacts climb through the decline, too.
    claim_extra = int(n * 0.10 * story)
    claim_day = (
        DAYS - 1 - np.floor(np.sqrt(rng.random(claim_extra)) * CLAIMS_DECLINE_DAYS).astype(np.int64)
    )
    claim_tps = [i for i, s in enumerate(tp_stage) if s == "claim"]
    frame = pl.DataFrame(
        {
            "customer_id": np.concatenate(
                [
                    cust["id"][owner],
                    cust["id"][extra_owner],
                    rng.integers(1, n + 1, size=claim_extra),
                ]
            ),
            "touchpoint_id": np.concatenate(
                [
                    np.array(tp_ids)[tp],
                    np.full(extra, "pay_billing_error"),
                    np.array(tp_ids)[rng.choice(claim_tps, size=claim_extra)],
                ]
            ),
            "day": np.concatenate([day, extra_day, claim_day]),
            "reason": "Enquiry",
        }
    )
    repeat = repeat.with_columns(pl.lit("Repeat contact after case closure").alias("reason"))
    frame = pl.concat([frame, repeat.select(frame.columns)], how="vertical_relaxed")
    channel_names = np.array(["phone", "web", "mobile"])
    frame = frame.with_columns(
        pl.Series("channel", channel_names[rng.choice(3, frame.height, p=[0.6, 0.25, 0.15])]),
        pl.when(pl.col("touchpoint_id") == "pay_billing_error")
        .then(pl.lit("Billing query"))
        .otherwise(pl.col("reason"))
        .alias("reason"),
    ).sort("day", "customer_id")
    return frame.select(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("contact_id"),
        "customer_id",
        "touchpoint_id",
        "channel",
        (pl.lit(start) + pl.duration(days=pl.col("day"))).cast(pl.Date).alias("contacted_on"),
        "reason",
    )


def _kpis(rng, start: dt.date, story: float = 1.0) -> pl.DataFrame:
    defs = read_kpi_definitions(SAMPLE_DIR)
    weeks = [start + dt.timedelta(days=7 * w) for w in range(DAYS // 7)]
    rows = []
    for d in defs.iter_rows(named=True):
        target, hib = d["target"], d["higher_is_better"]
        hit_rate = (
            KPI_HIT_RATES.get(d["department_id"], KPI_HIT_RATE_NO_STORY)
            if story
            else KPI_HIT_RATE_NO_STORY
        )
        spread = abs(target) * 0.04 + 0.1
        for w, week in enumerate(weeks):
            hit = rng.random() < hit_rate
            if (
                story
                and d["kpi"] == "Billing error rate"
                and BILLING_CONTACT_WEEKS[0] <= w < BILLING_CONTACT_WEEKS[1]
            ):
                hit = False
            margin = rng.uniform(0.05, 1.0) * spread
            good = target + margin if hib else target - margin
            bad = target - margin if hib else target + margin
            value = good if hit else bad
            if d["unit"] == "%":
                value = min(value, 100.0)
            rows.append(
                (d["department_id"], d["kpi"], week, round(value, 2), target, hib, d["unit"])
            )
    return pl.DataFrame(
        rows,
        schema={
            "department_id": pl.String,
            "kpi": pl.String,
            "week": pl.Date,
            "value": pl.Float64,
            "target": pl.Float64,
            "higher_is_better": pl.Boolean,
            "unit": pl.String,
        },
        orient="row",
    )
