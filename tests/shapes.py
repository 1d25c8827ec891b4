"""Contract-valid databases of many shapes, for tests that every page works on partial data.

A :class:`Shape` says which optional tables a company has and how much data; :func:`tables`
turns it into the contract's tables (deterministically, from the shape's seed) and
:func:`shapes` is the Hypothesis strategy that draws shapes. Only the journey, customers and
responses are required by the importer; everything else may be absent or empty.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import polars as pl
from hypothesis import strategies as st

from cxmetrics.contract import schema

#: The contract's id type: text, as a CRM writes it.
ID_TYPE = pl.String


def make_id(kind: str, n: int) -> str:
    """The id of row ``n`` of ``kind`` (customer, response, contact, case): text with the
    characters a CRM's own ids carry (dashes, slashes, spaces, accents, quotes)."""
    return f"{kind[:4].upper()}-{n + 1:04d}/é 'x'"


#: Names with characters that break naive Markdown, HTML, CSV or format strings.
ODD_NAMES = (
    "Airport & departure",
    "Ärger <b>über</b> Rechnungen",
    "50% off *sale*",
    "{price} [link](x) `code`",
    "日本語のステージ",
    "Claims | appeals $5",
    'Quote "fast" \\ slow',
    "Renew_or_leave #2",
)
CHANNELS = ("web", "phone", "mobile app", "e-mail & chat", "branch #1")
#: The optional customer facts: revenue, cost to serve, influence, churn dates.
FACTS = ("revenue", "cost", "influence", "churn")
SEGMENTS = ("retail", "Small biz & co", "VIP*")
REGIONS = ("north", "Süd", "east <west>")


@dataclass(frozen=True)
class Shape:
    seed: int
    stages: int  # 1-8
    channels: int  # 1-5
    departments: int  # 0-4
    customers: int
    responses: int
    years: int  # 0-10: the span of the data (0: a few weeks)
    ended_long_ago: bool  # the data ends years before today
    odd_names: bool
    empty_stage: bool  # the last stage has no touchpoint, hence no answers
    scores: tuple[str, ...]  # which of nps, csat, ces are ever answered
    comments: bool
    contacts: bool
    cases: bool
    cases_closed: bool  # False: cases without a single closing date
    complaints: bool  # some responses come from the complaint source
    kpis: bool
    incentives: bool
    targets: bool
    owners: bool  # stages have departments that affect them
    facts: tuple[str, ...] = FACTS  # which optional customer facts are recorded

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.__dict__.items())


def shapes() -> st.SearchStrategy[Shape]:
    return st.builds(
        Shape,
        seed=st.integers(0, 10_000),
        stages=st.integers(1, 8),
        channels=st.integers(1, 5),
        departments=st.integers(0, 4),
        customers=st.sampled_from([3, 20, 150]),
        responses=st.sampled_from([1, 12, 80, 600, 2_500]),
        years=st.integers(0, 10),
        ended_long_ago=st.booleans(),
        odd_names=st.booleans(),
        empty_stage=st.booleans(),
        scores=st.sampled_from(
            [("nps", "csat", "ces"), ("nps",), ("csat",), ("ces",), ("nps", "csat")]
        ),
        comments=st.booleans(),
        contacts=st.booleans(),
        cases=st.booleans(),
        cases_closed=st.booleans(),
        complaints=st.booleans(),
        kpis=st.booleans(),
        incentives=st.booleans(),
        targets=st.booleans(),
        owners=st.booleans(),
        facts=st.sampled_from([FACTS, (), ("churn",), ("revenue", "cost"), ("influence",)]),
    )


_WORDS = (
    "the bill was wrong",
    "charged twice again",
    "friendly & quick",
    "waited <forever> on hold",
    "great app 10/10",
    "nobody called back",
    "très bien",
    "*** awful ***",
)


def tables(shape: Shape) -> dict[str, pl.DataFrame]:
    """The contract's tables of a company of this shape."""
    rnd = random.Random(shape.seed)
    end = dt.date(2014, 6, 30) if shape.ended_long_ago else dt.date.today() - dt.timedelta(days=3)
    span = max(20, 365 * shape.years)
    start = end - dt.timedelta(days=span)

    def name(kind: str, i: int) -> str:
        if shape.odd_names:
            return f"{ODD_NAMES[(i + len(kind)) % len(ODD_NAMES)]} {i + 1}"
        return f"{kind.title()} {i + 1}"

    stage_ids = [f"s{i + 1}" for i in range(shape.stages)]
    stages = pl.DataFrame(
        {
            "stage_id": stage_ids,
            "name": [name("stage", i) for i in range(shape.stages)],
            "position": list(range(1, shape.stages + 1)),
            "description": [None] * shape.stages,
        },
        schema={
            "stage_id": pl.String,
            "name": pl.String,
            "position": pl.Int32,
            "description": pl.String,
        },
    )
    answered = stage_ids[:-1] if shape.empty_stage and shape.stages > 1 else stage_ids
    tp_rows = []
    for s in answered:
        for k in range(rnd.randint(1, 3)):
            tp_rows.append(
                {
                    "touchpoint_id": f"{s}_t{k + 1}",
                    "stage_id": s,
                    "name": name("touchpoint", len(tp_rows)),
                    "moment_of_truth": rnd.random() < 0.5,
                    "description": None,
                }
            )
    touchpoints = pl.DataFrame(
        tp_rows,
        schema={
            "touchpoint_id": pl.String,
            "stage_id": pl.String,
            "name": pl.String,
            "moment_of_truth": pl.Boolean,
            "description": pl.String,
        },
    )
    dept_ids = [f"d{i + 1}" for i in range(shape.departments)]
    departments = pl.DataFrame(
        {"department_id": dept_ids, "name": [name("department", i) for i in range(len(dept_ids))]},
        schema={"department_id": pl.String, "name": pl.String},
    )
    owner_rows = []
    if shape.owners and dept_ids:
        for i, s in enumerate(stage_ids):
            lead = dept_ids[i % len(dept_ids)]
            owner_rows.append({"stage_id": s, "department_id": lead, "role": "lead"})
            other = dept_ids[(i + 1) % len(dept_ids)]
            if other != lead:
                owner_rows.append({"stage_id": s, "department_id": other, "role": "contributor"})
    stage_owners = pl.DataFrame(
        owner_rows, schema={"stage_id": pl.String, "department_id": pl.String, "role": pl.String}
    )
    target_rows = []
    if shape.targets:
        target_rows = [
            {"metric": "nps", "stage_id": None, "target": 20.0},
            {"metric": "csat", "stage_id": None, "target": 80.0},
            {"metric": "ces", "stage_id": None, "target": 5.0},
        ] + [{"metric": "nps", "stage_id": s, "target": 0.0} for s in stage_ids[::2]]
    targets = pl.DataFrame(
        target_rows, schema={"metric": pl.String, "stage_id": pl.String, "target": pl.Float64}
    )
    incentives = pl.DataFrame(
        [
            {"department_id": d, "cx_share": rnd.choice([0.0, 0.1, 0.3])}
            for d in (dept_ids if shape.incentives else [])
        ],
        schema={"department_id": pl.String, "cx_share": pl.Float64},
    )

    def day() -> dt.date:
        return start + dt.timedelta(days=rnd.randint(0, span))

    n_cust = shape.customers

    def fact(name: str, draw) -> list:
        """A draw per customer where the company records this fact, else every cell empty."""
        return [draw() for _ in range(n_cust)] if name in shape.facts else [None] * n_cust

    customers = pl.DataFrame(
        {
            "customer_id": [make_id("customer", i) for i in range(n_cust)],
            "segment": [SEGMENTS[i % len(SEGMENTS)] for i in range(n_cust)],
            "region": [REGIONS[rnd.randrange(len(REGIONS))] for _ in range(n_cust)],
            "joined_on": [start - dt.timedelta(days=rnd.randint(0, 900)) for _ in range(n_cust)],
            "annual_revenue": fact("revenue", lambda: round(rnd.uniform(100, 5_000), 2)),
            "cost_to_serve": fact("cost", lambda: round(rnd.uniform(10, 900), 2)),
            "influence": fact("influence", lambda: round(rnd.uniform(0, 100), 1)),
            "churned_on": fact("churn", lambda: day() if rnd.random() < 0.15 else None),
        },
        schema={
            "customer_id": ID_TYPE,
            "segment": pl.String,
            "region": pl.String,
            "joined_on": pl.Date,
            "annual_revenue": pl.Float64,
            "cost_to_serve": pl.Float64,
            "influence": pl.Float64,
            "churned_on": pl.Date,
        },
    )
    tp_ids = touchpoints["touchpoint_id"].to_list()
    channels = list(CHANNELS[: shape.channels])
    rows = []
    for i in range(shape.responses):
        mood = rnd.random()
        rows.append(
            {
                "response_id": make_id("response", i),
                "customer_id": make_id("customer", rnd.randrange(n_cust)),
                "touchpoint_id": rnd.choice(tp_ids),
                "channel": rnd.choice(channels),
                "responded_on": day(),
                "nps": round(10 * mood) if "nps" in shape.scores else None,
                "csat": 1 + round(4 * mood) if "csat" in shape.scores else None,
                "ces": 1 + round(6 * mood) if "ces" in shape.scores else None,
                "comment": rnd.choice(_WORDS) if shape.comments and rnd.random() < 0.6 else None,
                "source": "complaint" if shape.complaints and rnd.random() < 0.1 else "survey",
            }
        )
    responses = pl.DataFrame(
        rows,
        schema={
            "response_id": ID_TYPE,
            "customer_id": ID_TYPE,
            "touchpoint_id": pl.String,
            "channel": pl.String,
            "responded_on": pl.Date,
            "nps": pl.Int16,
            "csat": pl.Int16,
            "ces": pl.Int16,
            "comment": pl.String,
            "source": pl.String,
        },
    )
    contacts = pl.DataFrame(
        [
            {
                "contact_id": make_id("contact", i),
                "customer_id": make_id("customer", rnd.randrange(n_cust)),
                "touchpoint_id": rnd.choice(tp_ids),
                "channel": rnd.choice(channels),
                "contacted_on": day(),
                "reason": None,
            }
            for i in range(shape.responses // 2 + 1 if shape.contacts else 0)
        ],
        schema={
            "contact_id": ID_TYPE,
            "customer_id": ID_TYPE,
            "touchpoint_id": pl.String,
            "channel": pl.String,
            "contacted_on": pl.Date,
            "reason": pl.String,
        },
    )
    case_rows = []
    if shape.cases and dept_ids:
        for i in range(shape.responses // 3 + 1):
            opened = day()
            closed = opened + dt.timedelta(days=rnd.randint(0, 40))
            case_rows.append(
                {
                    "case_id": make_id("case", i),
                    "response_id": None,
                    "customer_id": make_id("customer", rnd.randrange(n_cust)),
                    "touchpoint_id": rnd.choice(tp_ids),
                    "department_id": rnd.choice(dept_ids),
                    "opened_on": opened,
                    "closed_on": closed if shape.cases_closed and rnd.random() < 0.7 else None,
                    "root_cause": rnd.choice([None, "billing & fees", "<unknown>"]),
                    "customer_confirmed": rnd.choice([None, True, False]),
                }
            )
    cases = pl.DataFrame(
        case_rows,
        schema={
            "case_id": ID_TYPE,
            "response_id": ID_TYPE,
            "customer_id": ID_TYPE,
            "touchpoint_id": pl.String,
            "department_id": pl.String,
            "opened_on": pl.Date,
            "closed_on": pl.Date,
            "root_cause": pl.String,
            "customer_confirmed": pl.Boolean,
        },
    )
    kpi_rows = []
    if shape.kpis:
        weeks = sorted({day() - dt.timedelta(days=day().weekday()) for _ in range(8)})
        for d in dept_ids:
            for w in weeks:
                kpi_rows.append(
                    {
                        "department_id": d,
                        "kpi": f"{name('kpi', 0)} %",
                        "week": w,
                        "value": rnd.uniform(50, 100),
                        "target": 80.0,
                        "higher_is_better": True,
                    }
                )
    kpis = pl.DataFrame(
        kpi_rows,
        schema={
            "department_id": pl.String,
            "kpi": pl.String,
            "week": pl.Date,
            "value": pl.Float64,
            "target": pl.Float64,
            "higher_is_better": pl.Boolean,
        },
    )
    out = {
        "stages": stages,
        "touchpoints": touchpoints,
        "departments": departments,
        "stage_owners": stage_owners,
        "targets": targets,
        "customers": customers,
        "responses": responses,
        "contacts": contacts,
        "cases": cases,
        "kpis": kpis,
        "incentives": incentives,
    }
    assert set(out) == set(schema.TABLE_NAMES)
    return out
