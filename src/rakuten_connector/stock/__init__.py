"""Stock: Cubyn's `stock.updated` events drive Rakuten's stock (coalesced files), and full reconciliations."""
