"""The HTTP client shared by the calls of many shops (the API's, each of a worker's pools).

One client serves every shop that hashes to it, so nothing an answer leaves behind may reach another
shop's request: the client keeps no cookie (a session cookie Rakuten set for one seller would otherwise go
with the next seller's calls), follows no redirect, and every call passes its own timeout.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx


def _no_cookies() -> CookieJar:
    """A jar whose policy accepts no cookie from any domain."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def shared_client(**options: Any) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for many shops' calls (`options` as httpx takes them)."""
    return httpx.AsyncClient(follow_redirects=False, cookies=_no_cookies(), **options)
