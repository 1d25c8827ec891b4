"""Charts as Chromium lays them out: no name covers another on the silo chart, no legend runs
into its title, one colour meaning per chart."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cxmetrics.charts import journey_charts, point_labels
from cxmetrics.charts.accountability_charts import fig_silo_quadrant
from cxmetrics.charts.chart_style import STATUS_COLORS
from cxmetrics.contract import store
from cxmetrics.stats import dataset
from cxmetrics.stats.filters import Filters
from cxmetrics.views import journey_view


def _dept(name: str, silo: float, gap: float, false_positive: bool = False):
    return SimpleNamespace(
        name=name,
        silo_score=silo,
        experience_gap=gap,
        false_positive=false_positive,
        sentence=name,
        finding=object(),  # tested
    )


#: As on the default sample: three departments on one point of the scorecard (50% of their
#: KPI-weeks on target, their stages 2.5 points apart), two more close by, one false positive.
CROWDED = [
    _dept("Billing & Finance", 0.417, -0.2),
    _dept("Customer Service", 0.458, -11.3),
    _dept("IT & Digital", 0.50, 1.5),
    _dept("Marketing", 0.50, -0.2),
    _dept("Product & Pricing", 0.50, -2.6),
    _dept("Sales", 0.667, 1.4),
    _dept("Underwriting", 0.75, -29.4),
    _dept("Claims", 1.0, -58.9, false_positive=True),
]


def test_points_on_top_of_each_other_share_one_label_in_their_order():
    # 6.6 px per point of NPS: A and B 11 px apart, B and C 8.6 px (under 14 px), D far
    labels = point_labels.place(
        [50, 50, 50, 90],
        [1.5, -1.5, -0.2, -30],
        ["A", "C", "B", "D"],
        (40, 100),
        (-40, 10),
        560,
        330,
    )
    texts = sorted(label.text for label in labels)
    assert texts == ["A<br>B<br>C", "D"]  # top to bottom as the points are
    shared = next(label for label in labels if label.text.startswith("A"))
    assert shared.y == pytest.approx((1.5 - 1.5 - 0.2) / 3)


def test_points_far_apart_keep_their_own_label_above_them():
    labels = point_labels.place([10, 90], [0, 0], ["Left", "Right"], (0, 100), (-10, 10), 560, 330)
    assert [(lab.text, lab.x, lab.yanchor) for lab in labels] == [
        ("Left", 10, "bottom"),
        ("Right", 90, "bottom"),
    ]


@pytest.mark.browser
@pytest.mark.parametrize("width", [560, 700, 1000])
def test_no_name_covers_another_in_the_browser(browser, tmp_path, width):
    """The chart drawn by plotly.js in Chromium at a half-page, a wider and a whole-page
    width: each department named once, no two texts overlapping."""
    page_file = tmp_path / "chart.html"
    fig_silo_quadrant(CROWDED).write_html(
        page_file, include_plotlyjs=True, full_html=True, default_width=width
    )
    page = browser.new_page(viewport={"width": width + 40, "height": 600})
    page.goto(page_file.as_uri())
    page.wait_for_selector("g.annotation text", timeout=30_000)
    boxes = page.locator("g.annotation text").evaluate_all(
        "ts => ts.map(t => { const r = t.getBoundingClientRect();"
        " return [t.textContent, r.left, r.top, r.right, r.bottom]; })"
    )
    named = " ".join(b[0] for b in boxes)
    for dept in CROWDED:
        assert named.count(dept.name) == 1, (dept.name, named)
    for i, a in enumerate(boxes):
        for b in boxes[:i]:
            overlap_x = min(a[3], b[3]) - max(a[1], b[1])
            overlap_y = min(a[4], b[4]) - max(a[2], b[2])
            assert overlap_x <= 0 or overlap_y <= 0, (a, b)
    page.close()


def _boxes(page, selector: str) -> list[list]:
    return page.locator(selector).evaluate_all(
        "es => es.map(e => { const r = e.getBoundingClientRect();"
        " return [e.textContent, r.left, r.top, r.right, r.bottom]; })"
    )


def _drawn(browser, tmp_path, fig, width: int):
    page_file = tmp_path / f"chart-{width}.html"
    fig.write_html(page_file, include_plotlyjs=True, full_html=True, default_width=width)
    page = browser.new_page(viewport={"width": width + 40, "height": 1200})
    page.goto(page_file.as_uri())
    page.wait_for_selector("g.legend", timeout=30_000)
    return page


@pytest.fixture(scope="module")
def journey_figures(loaded, sample_url):
    engine = store.make_engine(sample_url)
    try:
        contacts = dataset.load_contacts(engine, loaded)
    finally:
        engine.dispose()
    jv = journey_view.compute(loaded, contacts, Filters())
    return jv, {
        "impact": journey_charts.fig_impact(jv.ranking),
        "behaviour": journey_charts.fig_behaviour(jv.behaviour, jv.min_n),
    }


@pytest.mark.browser
@pytest.mark.parametrize("width", [560, 930])
@pytest.mark.parametrize("name", ["impact", "behaviour"])
def test_a_legend_never_runs_into_its_title(browser, tmp_path, journey_figures, name, width):
    page = _drawn(browser, tmp_path, journey_figures[1][name], width)
    (title,) = _boxes(page, "g.g-gtitle text")
    legend = _boxes(page, "g.legend g.traces")
    assert legend
    for entry in legend:
        assert entry[2] >= title[4] or entry[4] <= title[2], (entry, title)  # above or below
    page.close()


def test_behaviour_colours_mean_one_thing_each(journey_figures):
    """Each legend entry of the behavioural chart holds exactly the groups its name says,
    read from each group's own test."""
    jv, figs = journey_figures
    usable = [g for g in jv.behaviour if g.nps.n >= jv.min_n and g.others_nps.n >= jv.min_n]
    # a stage's moment is named with where its NPS is read ("(NPS at the other stages)")
    name = {
        g.moment: g.moment + (" (NPS at the other stages)" if g.elsewhere else "") for g in usable
    }
    lower = {
        name[g.moment] for g in usable if g.change and g.change.significant and g.change.delta < 0
    }
    higher = {
        name[g.moment] for g in usable if g.change and g.change.significant and g.change.delta > 0
    }
    expected = {
        "Lower than everyone else": (lower, STATUS_COLORS["below target"]),
        "Higher than everyone else": (higher, STATUS_COLORS["on target"]),
        "No difference found": (set(name.values()) - lower - higher, None),
    }
    traces = {t.name: t for t in figs["behaviour"].data}
    assert set(traces["Everyone else"].y) == set(name.values())
    assert any(g.elsewhere for g in usable)
    for name, (moments, color) in expected.items():
        if not moments:
            assert name not in traces
            continue
        assert set(traces[name].y) == moments
        if color:
            assert traces[name].marker.color == color


def test_behaviour_colours_by_hand():
    """One group lower, one higher, one without a difference: three legend entries, each
    with its own colour and group."""
    from cxmetrics.findings.behaviour import GroupResult
    from cxmetrics.stats import metrics as m

    def group(name: str, nps: float, change: m.Change | None) -> GroupResult:
        score = m.Score("nps", nps, 400, 2.0)
        churn = m.Score("churn", None, 0)
        return GroupResult(name, 100, score, churn, m.Score("nps", 20, 900, 1.0), churn, change)

    fig = journey_charts.fig_behaviour(
        [
            group("Low", -10, m.Change(-30.0, -13.0, True)),
            group("High", 45, m.Change(25.0, 11.0, True)),
            group("Same", 21, m.Change(1.0, 0.4, False)),
        ],
        30,
    )
    traces = {t.name: t for t in fig.data}
    assert set(traces["Lower than everyone else"].y) == {"Low"}
    assert traces["Lower than everyone else"].marker.color == STATUS_COLORS["below target"]
    assert set(traces["Higher than everyone else"].y) == {"High"}
    assert traces["Higher than everyone else"].marker.color == STATUS_COLORS["on target"]
    assert set(traces["No difference found"].y) == {"Same"}


@pytest.mark.browser
@pytest.mark.parametrize("dimension", ["stage", "segment"])
def test_revenue_figures_sit_clear_of_their_ranges(browser, tmp_path, loaded, dimension):
    """Each bar's figure is written right of its 95% range (no error bar through it) and the
    chart has no legend entry (a lone series named by its title)."""
    from cxmetrics.charts import loyalty_charts
    from cxmetrics.views import loyalty

    frame = loyalty.revenue_at_risk_by(loaded, Filters(), dimension)
    fig = loyalty_charts.fig_revenue_at_risk(frame, dimension, "£")
    page_file = tmp_path / "revenue.html"
    fig.write_html(page_file, include_plotlyjs=True, full_html=True, default_width=480)
    page = browser.new_page(viewport={"width": 520, "height": 800})
    page.goto(page_file.as_uri())
    page.wait_for_selector("g.textpoint text", timeout=30_000)
    assert not page.locator("g.legend").count()
    texts = _boxes(page, "g.textpoint text")
    bars = _boxes(page, "g.errorbar path")
    assert len(texts) == frame.height == len(bars)
    for text in texts:
        # the error bar drawn on the same row: vertical overlap with the text's box
        (row,) = [b for b in bars if b[2] < text[4] and b[4] > text[2]]
        # starts where the range ends or right of it (a thousandth of a pixel either way
        # is the browser's rounding, not an overlap: the text begins with two spaces)
        assert text[1] >= row[3] - 0.01, (text, row)
        assert text[3] <= 520, text  # and inside the figure
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("group", ["churn_by_loyalty", "churn_by_csat"])
def test_churn_figures_sit_above_their_margins(browser, tmp_path, loaded, group):
    """Each churn bar's figure is written above the top of its 95% margin's line, so that
    the line never strikes it through (inside a short bar it did)."""
    from cxmetrics.charts import loyalty_charts
    from cxmetrics.views import loyalty

    customers = loyalty.customers_in_view(loaded, Filters())
    frame = getattr(loyalty, group)(customers)
    key = {"churn_by_loyalty": "group", "churn_by_csat": "csat"}[group]
    fig = loyalty_charts.fig_churn_by(frame, key, "Churn", "Group")
    page_file = tmp_path / "churn.html"
    fig.write_html(page_file, include_plotlyjs=True, full_html=True, default_width=600)
    page = browser.new_page(viewport={"width": 640, "height": 600})
    page.goto(page_file.as_uri())
    page.wait_for_selector("g.textpoint text", timeout=30_000)
    texts = _boxes(page, "g.textpoint text")
    lines = _boxes(page, "g.errorbar path")
    valued = [c for c in frame["churn"] if c is not None]
    assert len(texts) == frame.height and len(lines) == len(valued) > 0
    expected = {f"{c:.1f}%" for c in valued}
    assert {t[0] for t in texts} >= expected
    for text in texts:
        # the margin's line in the same column: horizontal overlap with the text's box
        column = [b for b in lines if b[1] < text[3] and b[3] > text[1]]
        assert all(text[4] <= line[2] + 1 for line in column), (text, column)
        assert text[2] >= 0, text  # and inside the figure
    page.close()


def test_a_department_name_ending_in_s_takes_an_apostrophe_alone():
    from cxmetrics.views import wording

    assert wording.possessive("Claims") == "Claims'"
    assert wording.possessive("Sales") == "Sales'"
    assert wording.possessive("Marketing") == "Marketing's"


def test_behavioural_moments_and_churn_margins_stop_at_their_scales():
    """ "Made a complaint" at NPS -91.9 ± 12 drew its margin down to -104, and a churn of
    0.8% ± 1.2 below 0%: each bar stops at the end of its scale."""
    from cxmetrics.charts import loyalty_charts
    from cxmetrics.findings.behaviour import GroupResult
    from cxmetrics.stats import metrics as m

    def group(name: str, nps: float, others: float) -> GroupResult:
        se = 12 / m.Z95  # a 12-point margin on each side
        return GroupResult(
            name,
            99,
            m.Score("nps", nps, 99, se),
            m.Score("churn", None, 0),
            m.Score("nps", others, 900, se),
            m.Score("churn", None, 0),
            None,
        )

    fig = journey_charts.fig_behaviour([group("Made a complaint", -91.9, 95.0)], 30)
    for trace in fig.data:
        (x,) = trace.x
        low, high = x - trace.error_x.arrayminus[0], x + trace.error_x.array[0]
        assert low >= -100 and high <= 100, (trace.name, low, high)
    assert {round(x - trace.error_x.arrayminus[0], 6) for trace in fig.data for x in trace.x} == {
        -100.0,
        83.0,
    }
    import polars as pl

    churn = pl.DataFrame(
        {"segment": ["Personal"], "customers": [400], "churn": [0.8], "moe": [1.2]}
    )
    fig = loyalty_charts.fig_churn_by(churn, "segment", "Churn", "Churn")
    bar = fig.data[0]
    assert bar.y[0] - bar.error_y.arrayminus[0] == 0.0
    assert bar.y[0] + bar.error_y.array[0] == pytest.approx(2.0)
