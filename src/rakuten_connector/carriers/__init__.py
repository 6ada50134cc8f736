"""Carrier mappings: the default Rakuten delivery mode -> Cubyn table, and each connection's own choices."""
