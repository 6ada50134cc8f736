"""The operators' and merchants' console: a small browser application served by the API (`/console`),
built only on the public REST API."""
