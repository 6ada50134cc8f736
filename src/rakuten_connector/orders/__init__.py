"""Orders: Rakuten sales become Cubyn parcels, and the parcels' progress goes back to Rakuten.

One module per step of the flow:
- `poll`: the poll of one connection under its import lease: getnewsales, then `recording`, then
  `rakuten_cancellations`' detectors, then `parcel_creation` for the new orders;
- `recording`: the sales getnewsales lists -> order rows (imported or skipped), once per purchase;
- `parcel_creation`: the order's Cubyn parcel, created exactly once;
- `progress`: a Cubyn parcel state -> the Rakuten actions it calls for (accept, push tracking, refuse,
  cancel), each done once;
- `rakuten_cancellations`: what Rakuten says of an item (cancelled, refused, claimed), how it is
  detected and settled;
- `item_status`: the one writer of an item's Rakuten status: what Rakuten reports of it
  (`record_rakuten_status`) and what the connector's own accept, refuse and cancel did
  (`record_own_action`);
- `stock_failure`: since when Cubyn has lacked stock for an order, and when the merchant's delay has it
  refused; `out_of_stock`: that refusal (the parcel cancelled, then the items refused), run by `check`;
- `check`: a new look at one order, taking its next step (queued by the sweep, a retry, the poll);
- `order_lease`: the lease under which every step acts on an order (`with_order`);
- `scheduler`: the cron ticks that queue due polls and overdue order checks and parcel events.
`service` holds the order queries, transitions, retries and timeline; `router`, `schemas` and `models` the API
and the tables.
"""
