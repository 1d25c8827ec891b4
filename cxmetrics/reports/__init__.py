"""What leaves the dashboard: exports of charts and tables, the briefing, alerts and
their record, and delivery by e-mail and webhook."""
