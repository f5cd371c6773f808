"""Prometheus metrics: what each process counts (families.py), what the database holds at a
scrape (gauges.py), the files processes share them through (directory.py), and `GET /metrics`
(api.py)."""
