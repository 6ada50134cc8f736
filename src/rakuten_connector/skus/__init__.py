"""SKU mappings: a Rakuten SKU sold under another Cubyn SKU, per connection."""
