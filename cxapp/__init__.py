"""The app layer. Imports cxmetrics first, so Polars' allocator starts as it sets it."""

import cxmetrics  # noqa: F401
