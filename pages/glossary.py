"""Glossary: every metric's definition, formula, unit and direction, from the registry."""

import streamlit as st

from cxapp import auth, data, router, sidebar
from cxmetrics.registry import METRICS, MIN_N

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
