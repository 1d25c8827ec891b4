"""The data contract and everything that reads or writes it: the schema and its
migrations, the journey and metric definitions, period presets, company settings, the
stores (SQL engines, Parquet lakes, Spark), users and action plans, imports, the sample
generator and each comment's stored sentiment and theme. Imports no other layer."""
