"""Optional facts, text ids and company settings: a fact nobody recorded is unknown, never 0;
a CRM's own ids are kept and shown; money is in the company's currency; the default period
chooses itself. By hand, on the test company with facts removed, and in the pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3

import numpy as np
import polars as pl
import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest
from test_cli import run

from cxmetrics.contract import periods, settings, store
from cxmetrics.stats import dataset
from cxmetrics.stats import metrics as m
from cxmetrics.stats.filters import Filters
from cxmetrics.views import loyalty, overview

D = dt.date
TIMEOUT = 120


# --- settings ---------------------------------------------------------------------------


def test_settings_parse_currencies_periods_and_refuse_bad_values():
    s = settings.parse({"currency": "eur", "company_name": " Acme "})
    assert (s.currency, s.currency_symbol, s.company_name) == ("EUR", "€", "Acme")
    assert s.money(1_234_567) == "€1.23m" and s.money(45_000) == "€45k" and s.money(950) == "€950"
    assert s.money(None) == "–"
    assert settings.parse({"currency": "USD"}).money(-20_000) == "−$20k"
    assert settings.parse({"currency": "XAF"}).currency_symbol == "XAF "
    assert settings.parse({}).currency_symbol == "£"  # the default, GBP
    assert settings.parse({"default_period": "quarter"}).default_period == "quarter"
    assert settings.parse({"churn_recorded": "no"}).churn_recorded is False
    with pytest.raises(settings.SettingsError, match="default_period 'fortnight'"):
        settings.parse({"default_period": "fortnight"})
    with pytest.raises(settings.SettingsError, match="unknown setting colour"):
        settings.parse({"colour": "red"})
    with pytest.raises(settings.SettingsError, match="not a 3-letter ISO code"):
        settings.parse({"currency": "euro"})


def test_settings_command_sets_shows_and_refuses(tmp_path, sample_db):
    db = tmp_path / "cx.db"
    db.write_bytes(sample_db.read_bytes())
    url = f"sqlite:///{db}"
    done = run("settings", "set", "currency", "EUR", "--url", url)
    assert done.returncode == 0, done.stderr
    shown = run("settings", "show", "--url", url)
    assert "currency = EUR" in shown.stdout and "currency_symbol = €" in shown.stdout
    bad = run("settings", "set", "default_period", "fortnight", "--url", url)
    assert bad.returncode != 0 and "default_period 'fortnight'" in bad.stderr
    engine = store.make_engine(url)
    assert settings.load(engine).currency == "EUR"  # the refused value was not written
    engine.dispose()
    summary = json.loads(run("summary", "--json", "--url", url).stdout)
    assert summary["currency"] == "EUR"


# --- optional facts, by hand ------------------------------------------------------------


def arrays(revenue, churned) -> m.CustomerArrays:
    return m.CustomerArrays.from_frame(
        pl.DataFrame(
            {"churned_on": churned, "annual_revenue": revenue},
            schema={"churned_on": pl.Date, "annual_revenue": pl.Float64},
        )
    )


def test_revenue_at_risk_leaves_out_unknown_revenue_and_is_unknown_without_any():
    who, latest = np.array([0, 1, 2]), np.array([3, 5, 9])  # 0 and 1 detractors, 2 promoter
    partly = arrays([100.0, None, 50.0], [None, None, D(2026, 1, 5)])
    # detractors 1 left in 1 customer-year, others 1 in 2: attributable 1 − 0.5 = 0.5 a year
    half = m.ChurnRates(1, 1.0, 1, 2.0, 2, 1)
    assert half.attributable == 0.5
    risk = m.revenue_at_risk(who, latest, partly, half, D(2026, 3, 31))
    # both detractors active; only customer 0's revenue known: 100 × 0.5
    assert risk["detractor_revenue"] == 100.0 and risk["value"] == 50.0
    assert risk["detractors"] == 2 and risk["unknown_revenue"] == 1
    nothing = arrays([None, None, None], [None, None, D(2026, 1, 5)])
    assert nothing.facts.revenue is False and nothing.facts.churn is True
    none = m.revenue_at_risk(who, latest, nothing, half, D(2026, 3, 31))
    assert none["value"] is None and none["detractor_revenue"] is None
    no_churn = arrays([100.0, 20.0, 50.0], [None, None, None])
    assert no_churn.facts.churn is False
    assert m.revenue_at_risk(who, latest, no_churn, half, D(2026, 3, 31))["value"] is None


def test_facts_say_what_to_import():
    facts = m.Facts(revenue=False, cost=True, influence=True, churn=False)
    assert facts.missing("revenue", "cost", "churn") == ["revenue", "churn"]
    assert facts.unknown_text("cost") is None
    assert facts.unknown_text("churn") == (
        "Churn is not recorded: import customers with churned_on to see this."
    )
    assert facts.unknown_text("revenue", "churn") == (
        "Revenue and churn are not recorded: import customers with annual_revenue, "
        "churned_on to see this."
    )
    recorded = pl.DataFrame({"churned_on": [None, None]}, schema={"churned_on": pl.Date})
    assert m.Facts.of(recorded, churn_recorded=True).churn is True  # the company says so
    dated = pl.DataFrame({"churned_on": [D(2026, 1, 2), None]})
    assert m.Facts.of(dated).churn is True
    assert m.Facts.of(dated, churn_recorded=False).churn is False  # the setting wins


def test_value_summary_counts_only_customers_with_revenue_and_cost():
    customers = pl.DataFrame(
        {
            "annual_revenue": [100.0, None, 300.0, 50.0],
            "cost_to_serve": [150.0, 10.0, None, 20.0],
            "nps": [9, 3, 7, 0],
        },
        schema_overrides={"nps": pl.Int16},
    )
    got = loyalty.value_summary(customers)
    # known profit: customer 0 (−50), customer 3 (+30); 1 and 2 unknown
    assert got["customers"] == 2 and got["unknown"] == 2
    assert got["unprofitable"].value == pytest.approx(50.0)
    grid = {(r["value"], r["group"]): r["profit"] for r in got["grid"].iter_rows(named=True)}
    assert grid == {("Unprofitable", "Promoters"): -50.0, ("Profitable", "Detractors"): 30.0}


# --- the test company without the optional facts -----------------------------------------


def without_facts(data):
    customers = data.customers.with_columns(
        pl.lit(None, dtype=pl.Float64).alias(c)
        for c in ("annual_revenue", "cost_to_serve", "influence")
    ).with_columns(pl.lit(None, dtype=pl.Date).alias("churned_on"))
    return dataclasses.replace(data, customers=customers)


@pytest.fixture(scope="module")
def bare(sample_data):
    data = without_facts(sample_data)
    return dataset.build(data.journey, data.customers, data.responses)


def test_overview_and_loyalty_say_unknown_not_zero(bare):
    assert bare.facts == m.Facts(revenue=False, cost=False, influence=False, churn=False)
    view = Filters(start=bare.last_day - dt.timedelta(days=89), end=bare.last_day)
    ov = overview.compute(bare, view)
    churn, risk = ov.tiles["churn"], ov.tiles["revenue_at_risk"]
    assert churn.score.value is None and churn.unknown.startswith("Churn is not recorded")
    assert risk.score.value is None and "annual_revenue" in risk.unknown
    data = overview.summary_dict(ov)
    assert data["overall"]["churn"]["value"] is None
    assert data["overall"]["revenue_at_risk"] is None
    assert data["not_recorded"] == ["annual_revenue", "cost_to_serve", "influence", "churned_on"]
    customers = loyalty.customers_in_view(bare, view)
    assert loyalty.satisfied_at_risk(customers)["revenue"] is None
    assert loyalty.influencer_cut(bare) is None
    assert loyalty.influencer_nps_by_stage(bare, view).height == 0
    assert loyalty.influencer_detractors(bare, view, "claim").height == 0


def write_db(path, data, extra_settings: dict[str, str] | None = None) -> str:
    tables = data.tables()
    tables["settings"] = settings.frame(extra_settings or {})
    url = f"sqlite:///{path}"
    store.write_tables(url, tables)
    return url


def test_cli_summary_says_churn_not_recorded(tmp_path, sample_data):
    url = write_db(tmp_path / "bare.db", without_facts(sample_data))
    text = run("summary", "--url", url)
    assert text.returncode == 0, text.stderr
    assert "Churn    not recorded" in text.stdout
    assert "Revenue at risk unknown (Revenue and churn are not recorded" in text.stdout
    assert "£0" not in text.stdout and "0.0%" not in text.stdout.split("Churn")[1].split("\n")[0]


def test_a_score_never_asked_is_not_measured_where_one_without_answers_in_view_has_no_data(
    tmp_path, sample_data
):
    responses = sample_data.responses.with_columns(pl.lit(None, dtype=pl.Int16).alias("ces"))
    url = write_db(tmp_path / "no_ces.db", dataclasses.replace(sample_data, responses=responses))
    data = json.loads(run("summary", "--url", url, "--json").stdout)
    assert data["not_measured"] == ["ces"] and data["overall"]["ces"] == {"value": None, "n": 0}
    text = run("summary", "--url", url).stdout
    assert "  CES      not measured" in text and "CES no data" not in text
    ds = dataset.build(sample_data.journey, sample_data.customers, responses)
    assert ds.unmeasured("ces").startswith("CES is not measured: no response holds a ces answer")
    assert ds.unmeasured("nps") is None and ds.unmeasured("csat") is None
    assert overview.compute(ds, Filters()).tiles["ces"].unknown == ds.unmeasured("ces")
    # the sample asks CES: a view with no answers in it has no data there, it is measured
    whole = dataset.build(sample_data.journey, sample_data.customers, sample_data.responses)
    empty = overview.compute(whole, Filters(stages=("help",), channels=("agent",)))
    assert empty.tiles["ces"].score.n == 0 and empty.tiles["ces"].unknown is None
    assert overview.summary_dict(empty)["not_measured"] == []


def start(monkeypatch, url: str) -> AppTest:
    monkeypatch.setenv(store.URL_ENV, url)
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def test_pages_say_not_recorded_and_use_the_company_currency(monkeypatch, tmp_path, sample_data):
    data = without_facts(sample_data)
    # revenue known again for every customer; cost, influence and churn still unknown
    revenue = sample_data.customers["annual_revenue"]
    data = dataclasses.replace(
        data, customers=data.customers.with_columns(revenue.alias("annual_revenue"))
    )
    url = write_db(tmp_path / "eur.db", data, {"currency": "EUR", "company_name": "Acme"})
    at = start(monkeypatch, url)
    shown = {t.label: t.value for t in list(at.metric)[:6]}
    assert shown["Churn"] == "–"  # a word would be cut on a tile: its caption says it
    assert shown["Revenue at risk"] == "–"  # needs churn
    captions = [c.value for c in at.caption]
    assert any(
        c.startswith("Churn is not recorded: import customers with churned_on") for c in captions
    )
    assert any(c.startswith("Acme · ") for c in captions)
    at.switch_page("pages/loyalty.py").run()
    assert not at.exception, at.exception
    infos = [i.value for i in at.info]
    assert "Churn is not recorded: import customers with churned_on to see this." in infos
    assert (
        "Cost to serve is not recorded: import customers with cost_to_serve to see this." in infos
    )
    assert "Influence is not recorded: import customers with influence to see this." in infos
    revenue_metric = next(x for x in at.metric if x.label == "Their annual revenue")
    assert revenue_metric.value.startswith("€")
    everything = " ".join(
        [x.value for x in at.metric]
        + [c.value for c in at.caption]
        + [md.value for md in at.markdown]
    )
    assert "£" not in everything


def test_text_ids_are_kept_and_shown(monkeypatch, tmp_path, sample_data):
    crm = {c: pl.format("C-{}", pl.col(c)) for c in ("customer_id",)}
    data = dataclasses.replace(
        sample_data,
        customers=sample_data.customers.with_columns(**crm),
        responses=sample_data.responses.with_columns(**crm),
        contacts=sample_data.contacts.with_columns(**crm),
        cases=sample_data.cases.with_columns(**crm),
    )
    db = tmp_path / "crm.db"
    url = write_db(db, data, {"default_period": "all"})
    with sqlite3.connect(db) as conn:  # stored as written
        assert conn.execute("SELECT MIN(customer_id) FROM responses").fetchone()[0].startswith("C-")
    at = start(monkeypatch, url)
    at.switch_page("pages/loyalty.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[-1].value
    assert list(table.columns)[0] == "customer_id" and len(table) > 0
    ds = dataset.build(data.journey, data.customers, data.responses)
    view = Filters(start=ds.first_day, end=ds.last_day)
    want = loyalty.influencer_detractors(ds, view, ds.journey.stage_order[-1])
    assert table["customer_id"].tolist() == want["customer_id"].to_list()
    assert all(str(v).startswith("C-") for v in table["customer_id"])


# --- the default period -----------------------------------------------------------------


def test_default_period_is_the_shortest_with_enough_answers_by_hand():
    first, last = D(2025, 1, 1), D(2026, 8, 20)

    # answers per day: 1 a day from 1 Jul 2026
    def answers(start, end):
        lo = max(start, D(2026, 7, 1))
        return max((end - lo).days + 1, 0)

    # 30d: 30 answers → enough
    assert periods.default_preset(first, last, answers, 30)[0] == "30d"
    # need 45: quarter (1 Jul – 20 Aug, 51 days) is shorter than 90 days
    preset, why = periods.default_preset(first, last, answers, 45)
    assert preset == "quarter"
    assert why == (
        "Latest quarter chosen as the default: the shortest period with at least 45 NPS "
        "answers (51)."
    )
    assert periods.default_preset(first, last, answers, 60)[0] == "all"  # 90d holds 51 too
    preset, why = periods.default_preset(first, last, answers, 500)
    assert preset == "all" and "only 51 NPS answers, fewer than 500" in why
    assert periods.default_preset(first, last, answers, 30, "year")[0] == "year"


def test_dataset_default_period_counts_nps_answers(sample_data):
    ds = dataset.build(sample_data.journey, sample_data.customers, sample_data.responses)

    def counted(preset):  # NPS answers in a preset, counted on the rows
        start, end = periods.preset_range(preset, ds.first_day, ds.last_day)
        return ds.responses.filter(pl.col("responded_on").is_between(start, end))["nps"].count()

    n30 = counted("30d")
    got, why = ds.default_period(min_n=n30)
    assert got == "30d" and f"({n30:,})" in why
    got, why = ds.default_period(min_n=n30 + 1)
    assert got != "30d" and counted(got) >= n30 + 1 and f"({counted(got):,})" in why


def test_the_sidebar_says_which_period_it_chose(monkeypatch, tmp_path, sample_data):
    url = write_db(tmp_path / "auto.db", sample_data)  # no default period set
    at = start(monkeypatch, url)
    ds = dataset.build(sample_data.journey, sample_data.customers, sample_data.responses)
    preset, why = ds.default_period()
    assert at.sidebar.selectbox(key="period").value == preset
    assert why in [c.value for c in at.sidebar.caption]


# --- text ids through bulk writes and chunked reads ---------------------------------------

ODD_IDS = ["C-10023", "0012", "12", "a b", 'quote"d', "comma,id", "ünïcødé", "x\\y", "@handle"]


@pytest.fixture(params=["sqlite", "postgresql"])
def odd_url(request, tmp_path, sample_data):
    """The test company's journey, customers with odd text ids and sparse response ids,
    written by the bulk paths (ADBC into SQLite, COPY into Postgres)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'odd.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database(
            f"odd_{tmp_path.name[-20:].lower().replace('-', '_')}"
        )
    customers = sample_data.customers.head(len(ODD_IDS)).with_columns(
        pl.Series("customer_id", ODD_IDS)
    )
    responses = sample_data.responses.head(2_000).with_columns(
        pl.Series("customer_id", [ODD_IDS[i % len(ODD_IDS)] for i in range(2_000)]),
        pl.format("R/{}-{}", pl.int_range(2_000).hash(7) % 100_000, pl.int_range(2_000)).alias(
            "response_id"
        ),
    )
    tables = {
        **{k: v for k, v in sample_data.tables().items() if k not in ("contacts", "cases")},
        "customers": customers,
        "responses": responses,
    }
    store.write_tables(url, tables)
    return url, customers, responses


def test_odd_text_ids_survive_bulk_writes_and_chunked_reads(odd_url):
    url, customers, responses = odd_url
    engine = store.make_engine(url)
    try:
        got = store.load_customers(engine)
        assert sorted(got["customer_id"].to_list()) == sorted(ODD_IDS)
        whole = store.load_responses(engine)
        chunks = list(store.iter_responses(engine, chunk=300))
        assert len(chunks) == -(-2_000 // 300) and all(c.height <= 300 for c in chunks)
        joined = pl.concat(chunks)
        assert joined["response_id"].n_unique() == 2_000
        assert joined.sort("response_id").equals(whole.sort("response_id"))
        assert sorted(whole["response_id"].to_list()) == sorted(responses["response_id"].to_list())
        ds = dataset.load(engine)
        assert ds.n_responses == 2_000
        assert set(ds.customers["customer_id"].to_list()) == set(ODD_IDS)
    finally:
        engine.dispose()


def test_the_briefing_says_not_recorded_and_uses_the_currency(tmp_path, sample_data):
    from cxmetrics.reports import briefing

    url = write_db(
        tmp_path / "bare.db",
        without_facts(sample_data),
        {"currency": "USD", "company_name": "Acme"},
    )
    engine = store.make_engine(url)
    try:
        inputs = briefing.load_inputs(engine)
    finally:
        engine.dispose()
    ds = inputs["ds"]
    b = briefing.build(
        **inputs, f=Filters(start=ds.last_day - dt.timedelta(days=89), end=ds.last_day)
    )
    assert b.title == "Acme: customer experience briefing"
    slides = {s.title: s for s in b.slides}
    assert slides["Does loyalty predict who leaves?"].lines == [
        "Churn is not recorded: import customers with churned_on to see this."
    ]
    assert slides["Does loyalty predict who leaves?"].figure is None
    assert slides["Revenue at risk"].lines[0].startswith("Revenue and churn are not recorded")
    headline = " ".join(slides["Headline numbers"].lines)
    assert "Churn: Not recorded" in headline and "Revenue at risk: Not recorded" in headline
    assert "£" not in headline and "$0" not in headline


def test_a_changed_setting_changes_the_data_version(pg_server, sample_data):
    # on Postgres: no file time to change with it, only the fingerprint's own parts
    url = pg_server.create_database("settings_version")
    store.write_tables(url, sample_data.tables())
    engine = store.make_engine(url)
    before = store.data_version(engine)
    settings.save(engine, "currency", "EUR")
    assert store.data_version(engine) != before
    engine.dispose()


def test_customers_without_revenue_and_with_crm_ids_import(tmp_path, sample_db):
    from cxmetrics.contract import importer

    db = tmp_path / "cx.db"
    db.write_bytes(sample_db.read_bytes())
    engine = store.make_engine(f"sqlite:///{db}")
    customers = tmp_path / "crm.csv"
    customers.write_text(
        "customer_id,segment,region,joined_on\n"
        "C-10023,Retail,North,2025-01-02\n"
        "0015Z00000AbCdEQAZ,Retail,South,2025-02-03\n"
    )
    report = importer.run(engine, "customers", customers, None)
    assert report.problems.height == 0 and report.written == 2
    responses = tmp_path / "answers.csv"
    responses.write_text(
        "response_id,customer_id,touchpoint_id,channel,responded_on,nps,source\n"
        "survey-1,C-10023,pay_first_bill,web,2026-01-05,3,survey\n"
        "survey-2,0015Z00000AbCdEQAZ,pay_first_bill,web,2026-01-06,10,survey\n"
    )
    report = importer.run(engine, "responses", responses, None)
    assert report.problems.height == 0 and report.written == 2
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT customer_id, annual_revenue, cost_to_serve, influence FROM customers "
            "WHERE customer_id IN ('C-10023', '0015Z00000AbCdEQAZ') ORDER BY customer_id"
        ).all()
        answered = conn.exec_driver_sql(
            "SELECT customer_id FROM responses WHERE response_id = 'survey-1'"
        ).scalar()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("0015Z00000AbCdEQAZ", None, None, None),
        ("C-10023", None, None, None),
    ]
    assert answered == "C-10023"
