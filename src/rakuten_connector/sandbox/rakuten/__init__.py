"""The Rakuten France web-services simulator: `app.create_rakuten_sandbox()` builds it."""
