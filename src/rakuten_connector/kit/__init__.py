"""Small shared tools: auth, crypto, errors, logging, time."""
