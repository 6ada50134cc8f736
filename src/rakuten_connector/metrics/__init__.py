"""Prometheus metrics: `families` lists every series the processes count, `state` the gauges read from the
database and Redis when scraped, `serving` what answers `/metrics`."""
