"""The data contract: every table and column the dashboard reads, declared once.

These names are the public contract that a CX team imports its own data into. The
generator, the store and (later) the importer all use the ``Table`` objects below; no
other module spells a column name of the database.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

metadata = sa.MetaData()

SOURCES = ("survey", "contact_center", "social", "complaint")
OWNER_ROLES = ("lead", "contributor")
TARGET_METRICS = ("nps", "csat", "ces")
#: The values a target may take, per metric (NPS points, CSAT %, CES on its 1-7 scale).
TARGET_RANGES = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}
ACTION_STATUSES = ("planned", "in progress", "done", "dropped")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


#: Inclusive ranges of numeric columns (None: open); the tables' checks are made from them.
RANGES = {
    "responses": {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)},
    "customers": {"influence": (0, 100), "annual_revenue": (0, None), "cost_to_serve": (0, None)},
    "incentives": {"cx_share": (0, 1)},
}
#: Dates of what happened (a response, a contact, a case, a KPI's week, a customer joining
#: or leaving): an import refuses one after tomorrow (a time zone ahead), and, but for a
#: customer's (one may have joined in 1985), one before EARLIEST_DATE: a typo that would
#: otherwise move every period preset to 2099 or 1899
EVENT_DATES = {
    "responses": ("responded_on",),
    "contacts": ("contacted_on",),
    "cases": ("opened_on", "closed_on"),
    "kpis": ("week",),
    "customers": ("joined_on", "churned_on"),
}
EARLIEST_DATE = dt.date(1990, 1, 1)
NO_EARLIEST = ("customers",)
#: Dates in order within a row: the second, when given, not before the first.
DATE_ORDER = {
    "cases": (("opened_on", "closed_on"),),
    "customers": (("joined_on", "churned_on"),),
    "actions": (("start_on", "due_on"),),
}
#: Columns limited to a list of values; the tables' checks are made from them.
ALLOWED = {
    "responses": {"source": SOURCES},
    "stage_owners": {"role": OWNER_ROLES},
    "actions": {"metric": TARGET_METRICS, "status": ACTION_STATUSES},
}
SENTIMENT_LABELS = ("positive", "neutral", "negative")
ALLOWED["responses"]["sentiment_label"] = SENTIMENT_LABELS


#: Ids of the contract are text, so a CRM's own ids ("C-10023", a Salesforce id, a handle)
#: are kept as they are. Inside the app customers get a dense integer code instead.
ID_LENGTH = 100


def _id() -> sa.String:
    return sa.String(ID_LENGTH)


def _range(table: str, column: str, *, nullable: bool = False) -> str:
    low, high = RANGES[table][column]
    cond = f"{column} >= {low}" + (f" AND {column} <= {high}" if high is not None else "")
    return f"{column} IS NULL OR ({cond})" if nullable else cond


stages = sa.Table(
    "stages",
    metadata,
    sa.Column("stage_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("position", sa.Integer, nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.CheckConstraint("position >= 1", name="ck_stages_position"),
)

touchpoints = sa.Table(
    "touchpoints",
    metadata,
    sa.Column("touchpoint_id", sa.String(40), primary_key=True),
    sa.Column("stage_id", sa.String(40), sa.ForeignKey("stages.stage_id"), nullable=False),
    sa.Column("name", sa.String(160), nullable=False),
    sa.Column("moment_of_truth", sa.Boolean, nullable=False, default=False),
    sa.Column("description", sa.Text),
)

departments = sa.Table(
    "departments",
    metadata,
    sa.Column("department_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
)

stage_owners = sa.Table(
    "stage_owners",
    metadata,
    sa.Column("stage_id", sa.String(40), sa.ForeignKey("stages.stage_id"), primary_key=True),
    sa.Column(
        "department_id",
        sa.String(40),
        sa.ForeignKey("departments.department_id"),
        primary_key=True,
    ),
    sa.Column("role", sa.String(20), nullable=False),
    sa.CheckConstraint(_in("role", ALLOWED["stage_owners"]["role"]), name="ck_stage_owners_role"),
)

targets = sa.Table(
    "targets",
    metadata,
    sa.Column("target_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("metric", sa.String(20), nullable=False),
    # Empty stage_id: the company-wide target.
    sa.Column("stage_id", sa.String(40), sa.ForeignKey("stages.stage_id"), nullable=True),
    sa.Column("target", sa.Float, nullable=False),
    sa.CheckConstraint(_in("metric", TARGET_METRICS), name="ck_targets_metric"),
    sa.UniqueConstraint("metric", "stage_id", name="uq_targets_metric_stage"),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", _id(), primary_key=True),
    sa.Column("segment", sa.String(60), nullable=False),
    sa.Column("region", sa.String(60), nullable=False),
    sa.Column("joined_on", sa.Date, nullable=False),
    # Optional facts: empty when the company does not know them (the pages then say so).
    sa.Column("annual_revenue", sa.Float, nullable=True),
    sa.Column("cost_to_serve", sa.Float, nullable=True),
    sa.Column("influence", sa.Float, nullable=True),
    sa.Column("churned_on", sa.Date, nullable=True),
    sa.CheckConstraint(
        _range("customers", "annual_revenue", nullable=True), name="ck_customers_revenue"
    ),
    sa.CheckConstraint(
        _range("customers", "cost_to_serve", nullable=True), name="ck_customers_cost"
    ),
    sa.CheckConstraint(
        _range("customers", "influence", nullable=True), name="ck_customers_influence"
    ),
)

responses = sa.Table(
    "responses",
    metadata,
    sa.Column("response_id", _id(), primary_key=True),
    sa.Column("customer_id", _id(), sa.ForeignKey("customers.customer_id"), nullable=False),
    sa.Column(
        "touchpoint_id",
        sa.String(40),
        sa.ForeignKey("touchpoints.touchpoint_id"),
        nullable=False,
    ),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("responded_on", sa.Date, nullable=False),
    sa.Column("nps", sa.SmallInteger, nullable=True),
    sa.Column("csat", sa.SmallInteger, nullable=True),
    sa.Column("ces", sa.SmallInteger, nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("source", sa.String(20), nullable=False),
    # The source's own sentiment of the comment (positive / neutral / negative), if it has one:
    # used instead of the lexicon's score. Optional; read with the comments only.
    sa.Column("sentiment_label", sa.String(10), nullable=True),
    sa.CheckConstraint(_range("responses", "nps", nullable=True), name="ck_responses_nps"),
    sa.CheckConstraint(_range("responses", "csat", nullable=True), name="ck_responses_csat"),
    sa.CheckConstraint(_range("responses", "ces", nullable=True), name="ck_responses_ces"),
    sa.CheckConstraint(_in("source", ALLOWED["responses"]["source"]), name="ck_responses_source"),
    sa.Index("ix_responses_responded_on", "responded_on"),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("contact_id", _id(), primary_key=True),
    sa.Column("customer_id", _id(), sa.ForeignKey("customers.customer_id"), nullable=False),
    sa.Column(
        "touchpoint_id",
        sa.String(40),
        sa.ForeignKey("touchpoints.touchpoint_id"),
        nullable=False,
    ),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("contacted_on", sa.Date, nullable=False),
    sa.Column("reason", sa.String(200)),
    sa.Index("ix_contacts_contacted_on", "contacted_on"),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", _id(), primary_key=True),
    sa.Column("response_id", _id(), sa.ForeignKey("responses.response_id")),
    sa.Column("customer_id", _id(), sa.ForeignKey("customers.customer_id"), nullable=False),
    sa.Column(
        "touchpoint_id",
        sa.String(40),
        sa.ForeignKey("touchpoints.touchpoint_id"),
        nullable=False,
    ),
    sa.Column(
        "department_id",
        sa.String(40),
        sa.ForeignKey("departments.department_id"),
        nullable=False,
    ),
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("closed_on", sa.Date, nullable=True),
    sa.Column("root_cause", sa.String(200)),
    # True / False / empty (the customer was not asked or did not answer).
    sa.Column("customer_confirmed", sa.Boolean, nullable=True),
    sa.CheckConstraint(
        "closed_on IS NULL OR closed_on >= opened_on", name="ck_cases_closed_after_opened"
    ),
)

kpis = sa.Table(
    "kpis",
    metadata,
    sa.Column(
        "department_id",
        sa.String(40),
        sa.ForeignKey("departments.department_id"),
        primary_key=True,
    ),
    sa.Column("kpi", sa.String(120), primary_key=True),
    sa.Column("week", sa.Date, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("target", sa.Float, nullable=False),
    sa.Column("higher_is_better", sa.Boolean, nullable=False),
    # what value and target are counted in ("%", "days", "s", "£"), shown beside the KPI's
    # name; optional, and added since (:data:`ADDED_COLUMNS`)
    sa.Column("unit", sa.String(20)),
)

#: Optional columns added to the contract after databases and lakes were made with it:
#: read as empty where a table lacks them (``store.load_table``); ``init-db`` adds them
ADDED_COLUMNS = {"kpis": ("unit",)}

incentives = sa.Table(
    "incentives",
    metadata,
    sa.Column(
        "department_id",
        sa.String(40),
        sa.ForeignKey("departments.department_id"),
        primary_key=True,
    ),
    sa.Column("cx_share", sa.Float, nullable=False),
    sa.CheckConstraint(_range("incentives", "cx_share"), name="ck_incentives_share"),
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("import_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(40), nullable=False),
    sa.Column("file_name", sa.String(400), nullable=False),
    sa.Column("imported_at", sa.DateTime, nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_written", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
)

#: Company settings, one value per key (see ``cxmetrics/contract/settings.py`` for the keys).
#: Optional: a database without the table uses the defaults; ``init-db`` creates it.
settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

ALERT_CHANNELS = ("email", "webhook")
ALERT_STATUSES = ("sent", "owed")

#: Every alert owed or sent: one row per finding, recipient and channel
#: (``cxmetrics/reports/alerts.py`` writes it; ``init-db`` creates it). A row is written as "owed"
#: before anything is sent and turns "sent" once the server accepted it, so a finding is never sent
#: twice and a failed delivery is tried again on the next run. ``content`` holds what the message
#: says (JSON).
alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("finding_key", sa.String(400), primary_key=True),
    sa.Column("recipient", sa.String(320), primary_key=True),
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.CheckConstraint(_in("channel", ALERT_CHANNELS), name="ck_alert_channel"),
    sa.CheckConstraint(_in("status", ALERT_STATUSES), name="ck_alert_status"),
    sa.CheckConstraint("attempts >= 0", name="ck_alert_attempts"),
)

SENTIMENT_BANDS = ("negative", "neutral", "positive")

#: Sentiment and theme of each comment, computed once when the comment arrives (at import,
#: by the sample generator, or by ``python3 -m cxmetrics analyse-comments``), never when the
#: dashboard starts. Derived: ``analyse-comments --all`` rebuilds it from the comments.
#: Optional: a database without it shows the comments' pages with a note to run ``init-db``.
comment_analysis = sa.Table(
    "comment_analysis",
    metadata,
    sa.Column("response_id", _id(), sa.ForeignKey("responses.response_id"), primary_key=True),
    sa.Column("sentiment", sa.Float, nullable=True),  # −1 … +1 (VADER, or the source's label)
    sa.Column("sentiment_band", sa.String(10), nullable=False),
    sa.Column("theme", sa.String(200), nullable=False),
    # The comment with e-mail addresses and phone numbers masked, where that changed it
    # (empty otherwise): the text the search looks at unless the reader unmasks.
    sa.Column("masked_comment", sa.Text, nullable=True),
    sa.Column("analysed_at", sa.DateTime, nullable=False),
    sa.Column("model_version", sa.String(60), nullable=False),
    sa.CheckConstraint(_in("sentiment_band", SENTIMENT_BANDS), name="ck_comment_analysis_band"),
)

#: The fitted theme models (vocabulary, idf and NMF components as JSON text); comments that
#: arrive later are placed in the themes of the newest one.
comment_models = sa.Table(
    "comment_models",
    metadata,
    sa.Column("model_version", sa.String(60), primary_key=True),
    sa.Column("fitted_at", sa.DateTime, nullable=False),
    sa.Column("comments", sa.Integer, nullable=False),  # comments it was fitted on
    sa.Column("model", sa.Text, nullable=False),
)

#: Action plans: what a department does about a stage (or one of its touchpoints), which
#: metric it should move and by when. Optional like ``settings``: ``init-db`` adds it to a
#: database made before it existed; a database without it has no actions.
actions = sa.Table(
    "actions",
    metadata,
    sa.Column("action_id", _id(), primary_key=True),
    sa.Column(
        "department_id",
        sa.String(40),
        sa.ForeignKey("departments.department_id"),
        nullable=False,
    ),
    sa.Column("stage_id", sa.String(40), sa.ForeignKey("stages.stage_id"), nullable=False),
    # Empty: the action is meant for the whole stage.
    sa.Column(
        "touchpoint_id", sa.String(40), sa.ForeignKey("touchpoints.touchpoint_id"), nullable=True
    ),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("metric", sa.String(20), nullable=False),
    sa.Column("target", sa.Float, nullable=False),
    sa.Column("start_on", sa.Date, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("notes", sa.Text, nullable=True),
    sa.CheckConstraint(_in("metric", ALLOWED["actions"]["metric"]), name="ck_actions_metric"),
    sa.CheckConstraint(_in("status", ALLOWED["actions"]["status"]), name="ck_actions_status"),
    sa.CheckConstraint("due_on >= start_on", name="ck_actions_due_after_start"),
)

#: Every change to an action: who made it, when, and what changed (one line per change).
action_changes = sa.Table(
    "action_changes",
    metadata,
    sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action_id", _id(), sa.ForeignKey("actions.action_id"), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("changed_by", sa.String(254), nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Index("ix_action_changes_action_id", "action_id"),
)

#: Optional tables: created by ``init-db`` (and by the sample), not required by ``check``.
OPTIONAL_TABLES = (settings, actions, action_changes)

#: Tables a CX team imports from files (the journey's targets come with the journey files).
IMPORTABLE = (
    "stages",
    "touchpoints",
    "departments",
    "stage_owners",
    "incentives",
    "customers",
    "responses",
    "contacts",
    "cases",
    "kpis",
    "actions",
)

#: Tables in an order that satisfies foreign keys when writing.
WRITE_ORDER = (
    stages,
    touchpoints,
    departments,
    stage_owners,
    targets,
    customers,
    responses,
    contacts,
    cases,
    kpis,
    incentives,
)

TABLE_NAMES = tuple(t.name for t in WRITE_ORDER)


def create_all(engine: sa.Engine) -> None:
    """Create every table of the contract (and the import log) that does not exist yet."""
    metadata.create_all(engine)


def missing_tables(engine: sa.Engine) -> list[str]:
    """Names of contract tables absent from the database behind ``engine`` (a view of the
    same name counts: a lake's tables are views over its Parquet files)."""
    inspector = sa.inspect(engine)
    present = set(inspector.get_table_names()) | set(inspector.get_view_names())
    return [name for name in TABLE_NAMES if name not in present]


def required(column: sa.Column) -> bool:
    """A value must be given on import: not nullable and not numbered by the database."""
    return not column.nullable and not (column.primary_key and column.autoincrement is True)
