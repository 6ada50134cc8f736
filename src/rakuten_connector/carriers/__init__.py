"""Carrier mappings: which Rakuten delivery modes Cubyn fulfils (read-only table)."""
