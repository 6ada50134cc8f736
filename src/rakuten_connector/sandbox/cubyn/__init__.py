"""The Cubyn API simulator: `app.create_cubyn_sandbox()` builds it."""
