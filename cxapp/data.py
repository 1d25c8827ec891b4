"""Cached loaders: one engine per URL and one loaded dataset per data version, per server.

Every Streamlit session shares them (``st.cache_resource``), so data is read once per
server, not once per user. A failure is shown as a clear message and stops the page.

Every getter first asks who is signed in (``cxapp.auth``): a manager gets the data of their
departments only (``Dataset.scoped`` and ``cxmetrics.stats.scope``), cut here, once per data
version and scope and shared by every manager with that scope, so no page, export or
briefing built on these getters can show more.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
import weakref

import polars as pl
import sqlalchemy as sa
import streamlit as st

from cxapp import auth, errors
from cxapp.memo import Memo
from cxmetrics.charts import chart_style
from cxmetrics.contract import store
from cxmetrics.contract.text import mask_pii_column
from cxmetrics.findings import closed_loop
from cxmetrics.stats import comment_queries, dataset, scope
from cxmetrics.stats.dataset import Dataset

VERSION_TTL_SECONDS = 60
log = logging.getLogger("cxdashboard.data")


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    return store.make_engine(url)


def _read_version(url: str) -> tuple:
    """Check the database and read its data version, uncached."""
    engine = _engine(url)
    store.check(engine)
    return store.data_version(engine)


class _Versions(Memo):
    """The data version; also where the database is checked, at most once a minute per
    process (a failure is not kept). Asked for by every shared view of every run, so kept
    in a plain memo: no hashing of arguments and no copy of the value on each call."""

    def __call__(self, url: str) -> tuple:
        return self.get(url, lambda: _read_version(url))


_version = _Versions(max_entries=16, ttl_seconds=VERSION_TTL_SECONDS)


_last_good: dict[str, tuple[tuple, dt.datetime]] = {}  # url -> version that loaded, and when


def _current_version(url: str, *, warn: bool = False) -> tuple:
    """The data version; when the database cannot be reached but some data was loaded
    before, that data's version (the pages keep showing it) and a warning on the page. The
    next rerun tries the database again, so the pages recover by themselves."""
    try:
        version = _version(url)
    except store.StoreError as exc:
        if url not in _last_good:
            raise
        version, since = _last_good[url]
        log_failure("data", f"the database cannot be used, the pages keep earlier data: {exc}")
        if not warn:  # one warning per page: get_dataset gives it
            return version
        st.warning(
            f"**The database cannot be used right now:** {exc}. Showing the data as "
            f"loaded at {since:%H:%M} UTC; this page updates by itself when the database "
            "is back.",
            icon=":material/cloud_off:",
        )
        _retry_when_back(url)
        return version
    for part in ("data", "view"):  # read: the next failure is logged again
        log_failure(part, None)
    if _last_good.get(url, (None,))[0] != version:
        _last_good[url] = (version, dt.datetime.now(dt.UTC))
    return version


RETRY_SECONDS = 10


@st.fragment(run_every=RETRY_SECONDS)
def _retry_when_back(url: str, failed_version: tuple | None = None) -> None:
    """While the data cannot be shown, look again every few seconds (drawing nothing).
    ``failed_version`` is the data version that could not be shown (None when the
    database itself could not be used): the whole page runs again only once the database
    answers with other data, so a reachable database whose data is unusable (no responses
    yet) is not reloaded in a loop."""
    try:
        version = _read_version(url)
    except (store.StoreError, sa.exc.SQLAlchemyError):
        return
    if version == failed_version:
        return
    _version.clear()
    st.rerun(scope="app")


@st.cache_resource(show_spinner="Loading the data…", max_entries=2)
def _dataset(url: str, version: tuple) -> Dataset:
    started = time.perf_counter()
    ds = dataset.load(_engine(url))
    log.info(
        "loaded %s responses from %s in %.1f s (once per data version, for every session); %s",
        f"{ds.n_responses:,}",
        store.safe_url(url),
        time.perf_counter() - started,
        held_where(ds),
    )
    return ds


def held_where(ds: Dataset) -> str:
    """Where a loaded dataset's responses are, for the server's log (``CX_HOLD``)."""
    if ds.responses is not None:
        return "their rows are held in this process (CX_HOLD=rows)"
    where = "they stay in the database; this process holds aggregates (CX_HOLD=database)"
    kept = ds.database.kept if ds.database is not None else None
    if kept is None:
        return where
    if ds.database.from_kept:
        return f"{where}, read from what an earlier start kept in {kept.path}"
    return f"{where}, kept for the next start in {kept.path}"


_EXTRA = {
    "contacts": lambda engine, ds: dataset.load_contacts(engine, ds),
    "kpis": lambda engine, ds: store.load_kpis(engine),
    "cases": lambda engine, ds: store.load_cases(engine),
}


@st.cache_resource(show_spinner="Loading…", max_entries=6)
def _extra(url: str, version: tuple, name: str) -> pl.DataFrame:
    return _EXTRA[name](_engine(url), _dataset(url, version))


def _scope() -> tuple[str, ...] | None:
    """The departments the signed-in user may see (None: all); signs them in first."""
    return auth.current_user().scope


@st.cache_resource(show_spinner="Preparing your departments' view…", max_entries=16)
def _scoped_dataset(url: str, version: tuple, departments: tuple[str, ...]) -> Dataset:
    return _dataset(url, version).scoped(departments)


def _dataset_for(url: str, version: tuple, departments: tuple[str, ...] | None) -> Dataset:
    if departments is None:
        return _dataset(url, version)
    return _scoped_dataset(url, version, departments)


_SCOPE = {
    "contacts": scope.contacts,
    "kpis": lambda frame, ds: scope.own(frame, ds.scope),
    "cases": lambda frame, ds: scope.own(frame, ds.scope),
}


@st.cache_resource(show_spinner=False, max_entries=24)
def _scoped_extra(url: str, version: tuple, name: str, departments: tuple[str, ...]):
    ds = _scoped_dataset(url, version, departments)
    return _SCOPE[name](_extra(url, version, name), ds)


def _extra_for(url: str, version: tuple, name: str, departments: tuple[str, ...] | None):
    if departments is None:
        return _extra(url, version, name)
    return _scoped_extra(url, version, name, departments)


def _get_extra(name: str) -> pl.DataFrame:
    return _cached_or_stop(
        lambda url, version, departments: _extra_for(url, version, name, departments), name
    )


def get_contacts() -> pl.DataFrame:
    """Contacts, prepared; loaded once per data version, on first use by a page."""
    return _get_extra("contacts")


def get_kpis() -> pl.DataFrame:
    """Departments' own KPIs; loaded once per data version, on first use by a page."""
    return _get_extra("kpis")


def get_cases() -> pl.DataFrame:
    """Cases; loaded once per data version, on first use by a page."""
    return _get_extra("cases")


def _comments_for(url: str, version: tuple, departments: tuple[str, ...] | None):
    """The comments of the database within the user's stages: queried a statistic or a
    page at a time, never read whole (their sentiment and themes are stored once per
    comment, see ``cxmetrics/contract/comment_analysis.py``)."""
    texts = comment_queries.Comments(_engine(url))
    if departments is None:
        return texts
    return texts.scoped(_scoped_dataset(url, version, departments).journey.stage_order)


@st.cache_resource(show_spinner="Linking cases to repeat contacts…", max_entries=8)
def _closed_loop(url: str, version: tuple, departments: tuple[str, ...] | None) -> pl.DataFrame:
    return closed_loop.prepare_for(
        _dataset_for(url, version, departments),
        _extra_for(url, version, "cases", departments),
        _extra_for(url, version, "contacts", departments),
    )


def _cached_or_stop(loader, what: str):
    """``loader(url, version, departments)`` for the signed-in user's scope; on a database
    failure, say what could not be loaded and stop the page."""
    departments = _scope()
    url = store.database_url()
    try:
        return loader(url, _current_version(url), departments)
    except store.StoreError as exc:
        _stop_on(f"The {what} cannot be loaded.", exc, url)


def get_comments() -> comment_queries.Comments:
    """The comments in the signed-in user's scope, queried where they are stored."""
    return _cached_or_stop(_comments_for, "comments")


def get_closed_loop() -> pl.DataFrame:
    """Cases with their stage, repeat contacts and false closures; once per data version."""
    return _cached_or_stop(_closed_loop, "cases")


# --- views shared by every session ------------------------------------------------------
# The inputs a shared view can ask for, by name: each is the signed-in user's, for the same
# data version as the view's key.
DATASET, CONTACTS, KPIS, CASES, COMMENTS, CLOSED_LOOP = (
    "<dataset>", "<contacts>", "<kpis>", "<cases>", "<comments>", "<closed loop>"
)  # fmt: skip
_INPUTS = {
    DATASET: _dataset_for,
    CONTACTS: lambda url, version, departments: _extra_for(url, version, "contacts", departments),
    KPIS: lambda url, version, departments: _extra_for(url, version, "kpis", departments),
    CASES: lambda url, version, departments: _extra_for(url, version, "cases", departments),
    COMMENTS: _comments_for,
    CLOSED_LOOP: _closed_loop,
}
VIEWS = Memo(max_entries=256, ttl_seconds=3600)
# What pages derive from shared results (figures, tables, a view's sections), kept apart so
# that these many small entries do not push the views themselves out of VIEWS. An entry
# holds the parts it was made from, so its bound also bounds what it keeps alive.
PARTS = Memo(max_entries=512, ttl_seconds=3600)


def _resolve(arg, url: str, version: tuple, departments: tuple[str, ...] | None):
    if isinstance(arg, str) and arg in _INPUTS:
        return _INPUTS[arg](url, version, departments)
    return arg


class _Same:
    """A part of a key that stands for one object, by identity: a frame or list taken from
    a shared result, which every session holds as the very same object. The key keeps the
    object alive, so its id cannot pass to another object while the key exists."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Same) and other.value is self.value


def _key_part(arg):
    try:
        hash(arg)
    except TypeError:  # a frame, a list, a view holding them: the same object, not equal
        return _Same(arg)
    return arg


def shared(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, computed once for every session with the same database, data
    version and departments, and the same other arguments. Hashable arguments (filters,
    options) count by value; any other (a frame, a list, a view) by identity, so pass only
    parts of shared results, which every session holds as the same objects, never a frame
    made on each run (it would be computed every run, and fill the memo). Name the loaded
    inputs with ``DATASET``, ``CONTACTS``, ``KPIS``, ``CASES``, ``COMMENTS`` and
    ``CLOSED_LOOP``: they are fetched for the version in the key. ``fn`` is keyed as
    itself, so pass a module's function, not a lambda made on each run. The result is
    shared: pages must not change it. A result made from parts of other shared results (an
    argument counted by identity) is kept in ``PARTS``, any other in ``VIEWS``."""
    return _shared(fn, args, kwargs)


def _shared(fn, args: tuple, kwargs: dict, derived: bool = False):
    departments = _scope()
    url = store.database_url()
    try:
        version = _current_version(url)
        parts = tuple(_key_part(a) for a in args)
        named = tuple(sorted((k, _key_part(v)) for k, v in kwargs.items()))
        key = (
            url,
            version,
            departments,
            fn,  # the function itself: two lambdas of one name are not one view
            parts,
            named,
        )
        derived = derived or any(isinstance(p, _Same) for p in (*parts, *(v for _, v in named)))
        return (PARTS if derived else VIEWS).get(
            key,
            lambda: fn(
                *(_resolve(a, url, version, departments) for a in args),
                **{k: _resolve(v, url, version, departments) for k, v in kwargs.items()},
            ),
        )
    except store.StoreError as exc:
        _stop_on("The data for this view cannot be loaded.", exc, url)


def _stop_on(headline: str, exc: Exception, url: str) -> None:
    """Say what could not be loaded and stop the page. Where the database itself does not
    answer (an outage), the page looks again every few seconds and comes back by itself
    once it does; a failure of a database that answers is not retried in a loop."""
    st.error(f"**{headline}** {exc}", icon=":material/error:")
    try:
        _read_version(url)
    except (store.StoreError, sa.exc.SQLAlchemyError):
        log_failure("view", f"the database does not answer: {exc}")
        st.caption(
            f"The database does not answer; this page tries again every {RETRY_SECONDS} "
            "seconds and comes back by itself."
        )
        _retry_when_back(url)
    st.stop()


_FIGURES: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id -> shared figure


def _literal_figure(builder, *args, **kwargs):
    fig = chart_style.literal(builder(*args, **kwargs))
    _FIGURES[id(fig)] = fig
    return fig


def figure(builder, *args, **kwargs):
    """The Plotly figure ``builder(*args, **kwargs)``, built once per view for every session
    (keyed as :func:`shared`, kept in ``PARTS``), its texts from the data already drawn as
    written (``chart_style.literal``). Shared: draw it with ``ui.chart``, never change it."""
    return _shared(_literal_figure, (builder, *args), kwargs, derived=True)


def is_shared_figure(fig) -> bool:
    """Whether ``fig`` was made by :func:`figure` (already literal, and not to be changed)."""
    return _FIGURES.get(id(fig)) is fig


_TABLES: dict[tuple, tuple[weakref.ref, object]] = {}  # (id of a frame, signed) -> pandas form
_TABLES_LOCK = threading.RLock()  # reentrant: a frame may die (and its entry leave) inside


def table_frame(frame, signed: tuple[tuple[str, int], ...] = ()):
    """What ``st.dataframe`` draws of a Polars frame, made as Streamlit makes it (its pandas
    form, then that as an Arrow table; the index hidden as Streamlit hides it), once per
    frame object while that object lives: a frame of a shared result is converted once for
    every session, one made on each run each run. Shared: never change it. Anything other
    than a Polars frame is returned as it is.

    ``signed``: (column, decimals) shown with a sign (``%+.0f``): rounded to what is shown,
    so that -0.3 reads 0, never "-0"."""
    if not isinstance(frame, pl.DataFrame):
        return frame
    key = (id(frame), signed)
    with _TABLES_LOCK:
        entry = _TABLES.get(key)
        if entry is not None and entry[0]() is frame:
            return entry[1]
    import pyarrow as pa  # loaded by the first table shown, not by every process

    rounded = [
        # -0.0 == 0: written as a plain 0.0
        pl.when(pl.col(c).round(d) == 0).then(0.0).otherwise(pl.col(c).round(d)).alias(c)
        for c, d in signed
        if c in frame.columns and frame.schema[c].is_float()
    ]
    shown = (frame.with_columns(rounded) if rounded else frame).to_pandas()
    # a column Arrow cannot take as it is stays pandas: Streamlit adjusts it itself
    with contextlib.suppress(
        pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError
    ):
        shown = pa.Table.from_pandas(shown)
    with _TABLES_LOCK:
        _TABLES[key] = (weakref.ref(frame, lambda _, k=key: _TABLES.pop(k, None)), shown)
    return shown


def engine():
    """The shared engine of ``CX_DATABASE_URL``."""
    return _engine(store.database_url())


def get_actions(ds: Dataset) -> pl.DataFrame | None:
    """The action plans on the stages of ``ds``; for a manager only their departments'
    own (``actions.visible``); None, with a warning, when they cannot be read. An edit must
    show at once, in every session and process: on every run one cheap query reads the
    actions' change marker (``actions.change_marker``), and the table is read again, once
    for every session, only when the marker has changed. The frame is shared: pages must
    not change it."""
    from cxmetrics.contract import actions

    url = store.database_url()
    try:
        marker = actions.change_marker(_engine(url))
        key = (url, _current_version(url), ds.scope, "actions", marker)
        found = VIEWS.get(
            key, lambda: actions.visible(actions.load(_engine(url)), ds.journey, ds.scope)
        )
        log_failure("actions", None)
        return found
    except (store.StoreError, sa.exc.SQLAlchemyError) as exc:
        said = f"Action plans cannot be read right now: {store.describe_error(exc)}"
        log_failure("actions", f"{said} ({store.safe_url(url)})")
        errors.warn_once(said, icon=":material/cloud_off:")
        return None


def log_failure(part: str, message: str | None) -> None:
    """A failure to read ``part`` of the data (the dashboard's data, a view's, its action
    plans) in this module's log, once while it lasts (``errors.log_once``)."""
    errors.log_once(part, message, log)


def refresh() -> None:
    """Forget the data version so that every page reads the data again (after an import)."""
    _version.clear()


def _create_sample(url: str) -> None:
    bar = st.progress(0.0, text="Creating the sample database (first run only)…")
    try:
        store.ensure_sample_database(url, progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
    finally:
        bar.empty()


def get_dataset() -> Dataset:
    """The dataset behind ``CX_DATABASE_URL``; on failure, say why and stop the page."""
    departments = _scope()
    url = store.database_url()
    version = None
    try:
        if store.sample_missing(url):
            _create_sample(url)
        version = _current_version(url, warn=True)
        ds = _dataset_for(url, version, departments)
    except store.StoreError as exc:
        log_failure("data", f"the dashboard cannot load its data: {exc}")
        st.error(f"**The dashboard cannot load its data.** {exc}", icon=":material/error:")
        st.caption(
            "The dashboard's administrator sets `CX_DATABASE_URL` to the CX database's "
            "SQLAlchemy URL (without it, the dashboard shows a fictional sample company). "
            f"This page tries again every {RETRY_SECONDS} seconds."
        )
        _retry_when_back(url, version)
        _stop()
    except Exception as exc:  # a driver or file error we did not foresee: no traceback
        said = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        log_failure(
            "data", f"the dashboard cannot load its data from {store.safe_url(url)}: {said}"
        )
        st.error(
            f"**The dashboard cannot load its data** from {store.safe_url(url)}: {said}",
            icon=":material/error:",
        )
        _stop()
    if departments is not None and ds.journey.stages.height == 0:
        st.error(
            "**Nothing to show for your departments.** None of "
            f"{', '.join(departments)} affects a stage of this journey; ask the "
            "dashboard's administrator to check your departments in the users file.",
            icon=":material/lock:",
        )
        _stop()
    return ds


def _stop() -> None:
    """Stop the page where it cannot show data, keeping who is signed in and Sign out in
    the sidebar (a user whose data cannot be shown could not sign out)."""
    auth.sidebar(auth.current_user())
    st.stop()


@st.cache_data(ttl=300, max_entries=64, show_spinner=False)
def _comments(url: str, version: tuple, view, stage_ids, limit: int):
    frame = store.load_comments(_engine(url), view, stage_ids, limit)
    return frame.with_columns(mask_pii_column(frame["comment"]))  # masked once, not per run


def comments(view, stage_ids, limit: int = 200):
    """The newest comments in view (personal details masked), or None with a message shown.
    A manager's ``stage_ids`` are cut to their stages here, whatever the page asked for."""
    departments = _scope()
    url = store.database_url()
    try:
        version = _current_version(url)
        if departments is not None:
            allowed = _scoped_dataset(url, version, departments).journey.stage_order
            stage_ids = tuple(s for s in (stage_ids or allowed) if s in allowed)
        return _comments(url, version, view, stage_ids, limit)
    except store.StoreError as exc:
        st.warning(f"Comments are not available: {exc}")
        return None
