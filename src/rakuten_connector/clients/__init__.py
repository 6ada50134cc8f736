"""One module per external API, speaking only HTTP: typed results, typed errors."""
