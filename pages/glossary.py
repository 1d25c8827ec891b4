"""Glossary: every metric's definition, formula, unit and direction, from the registry."""

import streamlit as st

from cxapp import auth, data, router, sidebar
from cxmetrics.contract.registry import METRICS, MIN_N
from cxmetrics.findings.findings import KINDS
from cxmetrics.stats.inference import FDR

router.ensure()  # a first visit by a shared link goes through the router

ds = data.get_dataset()
sidebar.filters(ds)  # keeps the shared filters alive and in the URL on this page too
auth.sidebar(auth.current_user(), ds.journey.department_name)

st.title("Glossary")
st.caption(
    f"How every number on the dashboard is defined. Scores with fewer than {MIN_N} "
    "answers are shown as “too few responses”."
)
direction = {True: "higher is better", False: "lower is better", None: "a volume"}
for spec in METRICS.values():
    with st.container(border=True):
        st.markdown(f"#### {spec.name}")
        st.markdown(spec.definition)
        st.code(spec.formula, language=None, wrap_lines=True)
        unit = (
            f"{ds.settings.currency} ({ds.settings.currency_symbol.strip()})"
            if spec.unit == "money"
            else spec.unit
        )
        st.caption(f"Unit: {unit} · {direction[spec.higher_is_better]}")

st.subheader("How the dashboard decides what to claim")
st.markdown(
    "Every sentence, flag and highlight that says something changed, leads, differs or falls "
    "short is a *finding*: a test with its effect, 95% interval, n and p-value. A view's tests "
    "of one kind are one family, and a finding is stated only when its Benjamini-Hochberg "
    f"q-value is at most {FDR:.0%}: among the claims made, at most {FDR:.0%} are expected "
    "to be false. Margins and tests allow for customers who answer more than once. A target "
    "is missed ('below target') only when the whole 95% interval lies below it; otherwise the "
    "score is 'near target'."
)
for kind, text in KINDS.items():
    st.markdown(f"- **{kind.replace('_', ' ')}** — {text}")
