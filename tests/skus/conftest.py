"""Fixtures of this folder."""

from tests.upstream_fakes import upstreams

__all__ = ["upstreams"]
