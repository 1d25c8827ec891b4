"""Metrics for the executive customer-experience dashboard. Never imports Streamlit."""
