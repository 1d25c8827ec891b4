"""Data: what the dashboard holds, and bringing in a CX team's own files."""

from dataclasses import replace
from pathlib import Path

import streamlit as st

from cxapp import auth, deliveries, router, ui, uploads
from cxmetrics.contract import importer, journey_import, mapping, schema, store
from cxmetrics.contract.journey import JourneyError
from cxmetrics.contract.text import counted
from cxmetrics.views.wording import inert

router.ensure()  # a first visit by a shared link goes through the router

NOT_IN_FILE = "— not in the file —"

user = auth.current_user()
if user.scope is not None:
    st.error(
        "**The Data page covers the whole database.** The other pages show your departments' data.",
        icon=":material/lock:",
    )
    st.stop()
auth.sidebar(user)

st.title("Data")
st.caption(f"Database: {uploads.safe_url()}")
needed = uploads.setup_needed()
if needed is not None:  # a new database: say so before anything is read or made
    st.warning(
        f"**The database is not set up yet:** {inert(needed)}. Create the data contract's "
        "tables here, or with `python3 -m cxmetrics init-db`; then import the journey "
        "definition, the customers and the responses.",
        icon=":material/database:",
    )
    refusal = uploads.import_refusal() if user.can_import else None
    if not user.can_import:
        st.info("Creating the tables is for analysts.", icon=":material/lock:")
    elif refusal is not None:  # a database the dashboard does not write to
        st.info(inert(refusal) + ".", icon=":material/lock:")
    elif st.button("Create the tables", key="create_tables", type="primary"):
        try:
            made = uploads.create_tables()
        except Exception as exc:  # noqa: BLE001 (a folder that cannot be written, a lost server)
            st.error(
                f"**The tables cannot be created** (nothing was changed): "
                f"{inert(store.describe_error(exc))}",
                icon=":material/error:",
            )
        else:
            st.session_state["tables_created"] = counted(len(made), "table")
            st.rerun()
    st.stop()
if created := st.session_state.pop("tables_created", None):
    st.success(f"Created {created}. Import the journey definition first.")
try:
    holdings = uploads.status()
except Exception as exc:  # an unreachable or foreign database: say so, no traceback
    st.error(
        f"**The database cannot be read.** {store.describe_error(exc)}", icon=":material/error:"
    )
    st.stop()

# --- what is there -----------------------------------------------------------------------
st.subheader("What the dashboard holds")
st.dataframe(
    holdings,
    hide_index=True,
    placeholder=ui.MISSING,
    height=38 + 35 * holdings.height,
    column_config={
        "table": "Table",
        "rows": st.column_config.NumberColumn("Rows", format="localized"),
        "from": "From",
        "to": "To",
        "last_import": st.column_config.TextColumn("Last import", width="large"),
    },
)

# --- alerts sent ------------------------------------------------------------------------
st.subheader("Alerts sent")
sent = deliveries.history()
if sent.height == 0:
    st.caption(
        "No alert has been sent yet: `python -m cxmetrics alerts --send` sends each week's "
        "findings to the managers of the departments that own them (see the README)."
    )
else:
    owed = sent.filter(sent["status"] == "owed").height
    st.caption(
        f"The newest {sent.height:,} deliveries: one row per finding, recipient and channel"
        + (f"; {owed:,} still owed (the next run tries again)." if owed else ".")
    )
    st.dataframe(
        sent,
        hide_index=True,
        placeholder=ui.MISSING,
        column_config={
            "updated_at": st.column_config.DatetimeColumn("Last attempt (UTC)"),
            "recipient": "Recipient",
            "channel": "Channel",
            "status": "Status",
            "role": "Role",
            "kind": "Kind",
            "finding": st.column_config.TextColumn("Finding", width="large"),
            "period_start": "From",
            "period_end": "To",
            "attempts": "Attempts",
            "last_error": "Last error",
            "sent_at": st.column_config.DatetimeColumn("Sent (UTC)"),
        },
    )

# --- import a file -----------------------------------------------------------------------
if not user.can_import:
    st.info("Importing files is for analysts.", icon=":material/lock:")
    st.stop()
refused = uploads.import_refusal()
if refused is not None:  # a lake, Spark, a DuckDB file: say so before a file is chosen
    st.subheader("Import a file")
    st.info(
        f"**Nothing is imported here.** {inert(refused)}.",
        icon=":material/lock:",
    )
    st.stop()

# --- journey definition ------------------------------------------------------------------
st.subheader("Import a journey definition")
st.caption(
    "A YAML file with stages, touchpoints, departments, stage owners, targets and "
    "incentives (see sample_data/skytrax/journey.yaml). It is checked as a whole first. A new "
    "database takes it before any file: the files' touchpoints are checked against it."
)
journey_file = st.file_uploader("Journey (YAML)", type=["yaml", "yml"], key="journey_file")
if journey_file is not None and st.button("Import the journey", key="journey_import"):
    try:
        counts = uploads.import_journey(uploads.save(journey_file))
    except (JourneyError, store.StoreError) as exc:
        st.error(inert(str(exc)), icon=":material/error:")
    else:
        st.success(f"Imported {journey_import.described(counts)}.")

st.subheader("Import a file")
st.caption(
    "CSV, TSV, XLSX or Parquet. Map the file's columns onto the table's, check every row, then "
    "import. Rows are matched on their id: importing the same file again changes nothing. "
    f"Files up to {st.get_option('server.maxUploadSize'):,} MB here; a larger one imports "
    "from the command line: `python3 -m cxmetrics import TABLE FILE --mapping MAPPING`."
)
c1, c2 = st.columns([1, 2])
table = c1.selectbox("Into table", schema.IMPORTABLE, index=schema.IMPORTABLE.index("responses"))
uploaded = c2.file_uploader(
    "File", type=["csv", "txt", "tsv", "xlsx", "xls", "parquet"], key="data_file"
)
saved_mapping = st.file_uploader(
    "A saved mapping (optional: TOML or YAML, e.g. last month's)",
    type=["toml", "yaml", "yml"],
    key="data_mapping",
)
with st.expander("How a mapping file is written"):
    st.code(mapping.reference(), language=None, wrap_lines=True)
if uploaded is None:
    st.info("Choose a file to import.", icon=":material/upload_file:")
    st.stop()

try:
    base = uploads.mapping_from(saved_mapping, table)
except (mapping.MappingError, UnicodeDecodeError) as exc:
    st.error(f"**The mapping cannot be used.** {inert(str(exc))}", icon=":material/error:")
    st.stop()
path = uploads.save(uploaded)
# a file that is not UTF-8 (Excel on Windows writes cp1252) can be read without editing a
# mapping by hand; a saved mapping's encoding is the default
offered = mapping.offered_encodings(base.encoding if base else None)
encoding = st.selectbox(
    "Text encoding (CSV and TSV)",
    offered,
    index=offered.index(base.encoding) if base else 0,
    help="UTF-8 unless the file says otherwise; cp1252 is what Excel on Windows writes. A "
    "rejected row whose text is broken names the encoding to try.",
    key="data_encoding",
)
try:
    source = uploads.read(str(path), encoding)
except importer.ImportError_ as exc:
    st.error(f"**The file cannot be read.** {inert(str(exc))}", icon=":material/error:")
    st.stop()
columns = importer.file_columns(source)
st.markdown(
    f"**{inert(uploaded.name)}**: {source.height:,} rows, {len(columns)} columns. First rows:"
)
st.dataframe(source.head(10).select(columns), hide_index=True, placeholder=ui.MISSING)

# --- the mapping -------------------------------------------------------------------------
guess = mapping.guess(table, columns, base)
absent = guess.absent_from(columns)
# Widgets start again from the guess whenever another file or saved mapping is chosen.
version = f"{table}_{path.parent.name}_{uploads.digest(saved_mapping)}"
st.markdown("**Map the columns**")
if guess.unpivot or guess.ids or guess.values or guess.rescale or guess.where:
    st.caption(
        "The saved mapping also turns columns into rows, builds ids, maps values, rescales "
        "ratings or filters rows; those settings are kept as they are (a rating's scale "
        "can be changed below)."
    )
if guess.where:
    st.caption(
        "Only rows where " + inert("; ".join(c.describe() for c in guess.where)) + " are imported."
    )
if absent:
    st.warning(
        f"**The saved mapping names {counted(len(absent), 'column')} that "
        f"{inert(uploaded.name)} does not have:** "
        + inert("; ".join(f"{field} = {col!r}" for field, col in absent))
        + ". A field below shows “"
        + NOT_IN_FILE.strip("— ")
        + "” and is not imported unless you choose a column for it; an id, a condition "
        "or a rating turned into rows that needs the column stops the import.",
        icon=":material/warning:",
    )
chosen: dict[str, str] = {}
constants: dict[str, str] = dict(guess.constants)
ids: dict[str, list[str]] = dict(guess.ids)
dates: dict[str, tuple[str, ...]] = dict(guess.dates)
rescale = dict(guess.rescale)
bad_scales: list[str] = []
grid = st.columns(3)
for i, field in enumerate(mapping.form_fields(guess)):
    with grid[i % 3].container(border=True):
        label = f"{field.name}{' (required)' if field.required else ''}"
        options = [NOT_IN_FILE, *columns]
        current = guess.columns.get(field.name)
        pick = st.selectbox(
            label,
            options,
            index=options.index(current) if current in options else 0,
            key=f"map_{version}_{field.name}",
        )
        built: list[str] = []
        if pick != NOT_IN_FILE:
            chosen[field.name] = pick
        elif field.builds_id:
            built = st.multiselect(
                "…or built from these columns",
                columns,
                key=f"ids_{version}_{field.name}",
                help="For a file without ids (reviews, say): a stable id hashed from the "
                "text of these columns, so next month's file gives the same row the same "
                "id. Choose columns that together tell rows apart; a row with one of them "
                "blank is rejected.",
            )
        if built:
            ids[field.name] = built
            constants.pop(field.name, None)
        elif pick == NOT_IN_FILE:
            value = st.text_input(
                "…or the same value on every row",
                value=str(guess.constants.get(field.name, "")),
                key=f"const_{version}_{field.name}",
            )
            if value.strip():
                constants[field.name] = value.strip()
            else:
                constants.pop(field.name, None)
        if field.is_date:
            typed = st.text_input(
                "date format",
                value=" | ".join(guess.dates.get(field.name, ("%Y-%m-%d",))),
                key=f"date_{version}_{field.name}",
                help="strptime codes: %d day, %m month, %Y year, %B month name, e.g. "
                "%d/%m/%Y. Several formats, separated by |, are tried in order. Ordinal "
                "suffixes are read: %d %B %Y reads 19th March 2025.",
            )
            formats = tuple(f.strip() for f in typed.split("|") if f.strip())
            dates[field.name] = formats or ("%Y-%m-%d",)
        if field.scale is not None and pick != NOT_IN_FILE:
            low, high = field.scale
            typed = st.text_input(
                "scale in the file",
                value=mapping.scale_text(guess, field),
                key=f"scale_{version}_{field.name}",
                help=f"Lowest-highest, as 1-10: rescaled onto {low:g}-{high:g}, then rounded.",
            )
            try:
                scale = mapping.scale_of(field, typed)
            except mapping.MappingError as exc:
                bad_scales.append(str(exc))
                scale = guess.rescale.get(field.name)
            rescale.pop(field.name, None)
            if scale is not None:
                rescale[field.name] = scale
for problem in bad_scales:
    st.warning(inert(problem), icon=":material/warning:")
m = replace(
    guess,
    columns=chosen,
    constants=constants,
    dates=dates,
    rescale=rescale,
    encoding=encoding,
    ids=ids,
)
st.download_button(
    "Save this mapping (TOML)",
    m.to_toml(),
    file_name=f"{Path(uploaded.name).stem}.mapping.toml",
    mime="application/toml",
    icon=":material/download:",
)

# --- check, then import ------------------------------------------------------------------
mode = st.radio(
    "If some rows are wrong",
    ["Import nothing (all or nothing)", "Import the valid rows, report the rest"],
    key="data_mode",
)
accept_valid = mode.startswith("Import the valid")
check, run = st.columns(2)
# a scale that cannot be read is not imported with another one in its place
do_check = check.button("Check every row", icon=":material/fact_check:", disabled=bool(bad_scales))
do_import = run.button(
    "Import", type="primary", icon=":material/database_upload:", disabled=bool(bad_scales)
)
if do_check or do_import:
    bar = st.progress(0.0, text="Starting…")
    try:
        report = uploads.run(table, path, m, dry_run=do_check, accept_valid=accept_valid, bar=bar)
    except (importer.ImportError_, mapping.MappingError, store.StoreError) as exc:
        bar.empty()
        st.error(f"**The file cannot be imported.** {inert(str(exc))}", icon=":material/error:")
        st.stop()
    bar.empty()
    (st.success if report.ok else st.warning)(inert(report.summary()))
    for warning in report.warnings:
        st.warning(inert(warning), icon=":material/warning:")
    if report.problems.height:
        st.markdown(
            f"**{counted(report.problems.height, 'problem')} in "
            f"{counted(report.rejected_source_rows, 'row')}** "
            "(row 1 is the header)"
        )
        st.dataframe(
            report.problems.head(1000),
            hide_index=True,
            placeholder=ui.MISSING,
            column_config={
                "row": st.column_config.NumberColumn("Row", format="%d"),
                "column": "Column",
                "value": "Value",
                "reason": st.column_config.TextColumn("Reason", width="large"),
            },
        )
    if report.duplicates_dropped:
        st.markdown(
            f"**{counted(report.duplicates_dropped, 'duplicate row')} left out** (keep-first: "
            "a later row with an id already seen); they are listed in the report."
        )
    if report.report_path:
        d1, d2 = st.columns(2)
        d1.download_button(
            "Download the report (CSV)",
            report.report_path.read_bytes(),
            file_name=report.report_path.name,
            mime="text/csv",
        )
        if report.rejected_path:
            d2.download_button(
                "Download the rejected rows (CSV)",
                report.rejected_path.read_bytes(),
                file_name=report.rejected_path.name,
                mime="text/csv",
            )
    if report.written and not report.dry_run:
        st.caption("Every page now shows the new data.")
    if not report.dry_run:
        uploads.discard(path)  # the file and its report are in this page now, not on disk
