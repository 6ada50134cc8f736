"""The one Faults shape both simulators extend (one latency field, in seconds) and the one meaning of their
`PUT /_sandbox/faults`: the body replaces every fault, `DELETE` clears them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError
from starlette.types import ASGIApp

from rakuten_connector.sandbox import faults
from rakuten_connector.sandbox.bodies import ControlBody
from rakuten_connector.sandbox.cubyn import bodies as cubyn
from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.rakuten import bodies as rakuten
from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox

SANDBOXES: dict[str, Callable[[], ASGIApp]] = {
    "rakuten": lambda: create_rakuten_sandbox(seed=1),
    "cubyn": lambda: create_cubyn_sandbox(seed=1),
}


@pytest.mark.parametrize("shape", [faults.Faults, cubyn.Faults, rakuten.Faults])
def test_every_faults_shape_is_a_strict_control_body(shape: type[faults.Faults]) -> None:
    assert issubclass(shape, faults.Faults)
    assert issubclass(shape, ControlBody)
    assert shape.model_config["extra"] == "forbid"
    with pytest.raises(ValidationError, match="Extra inputs"):
        shape.model_validate({"no_such_fault": 1})
    with pytest.raises(ValidationError):
        shape.model_validate({"error_rate": 1.5})
    injected = shape(error_rate=0.5)
    with pytest.raises(ValidationError):  # assignments are checked as well: counters cannot go wrong
        injected.error_rate = -1


@pytest.mark.parametrize("shape", [faults.Faults, cubyn.Faults, rakuten.Faults])
def test_every_faults_shape_has_one_latency_in_seconds(shape: type[faults.Faults]) -> None:
    assert shape().latency_seconds == 0
    assert shape(latency_seconds=0.25).latency_seconds == 0.25
    assert shape(latency_seconds=120).latency_seconds == 120
    for out_of_bounds in (-0.001, 120.001):
        with pytest.raises(ValidationError):
            shape(latency_seconds=out_of_bounds)
    with pytest.raises(ValidationError, match="Extra inputs"):
        shape.model_validate({"latency_ms": 40})


@pytest.mark.parametrize("name", sorted(SANDBOXES))
async def test_put_replaces_every_fault_and_delete_clears_them(name: str) -> None:
    app = SANDBOXES[name]()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as http:
        defaults = (await http.get("/_sandbox/faults")).json()
        first = (await http.put("/_sandbox/faults", json={"latency_seconds": 0.5, "error_rate": 0.1})).json()
        assert first == {**defaults, "latency_seconds": 0.5, "error_rate": 0.1}
        second = (await http.put("/_sandbox/faults", json={"error_rate": 0.2})).json()
        assert second == {**defaults, "error_rate": 0.2}  # the latency of the first PUT is gone
        assert (await http.get("/_sandbox/faults")).json() == second
        assert (await http.put("/_sandbox/faults", json={"latency_seconds": 0.5})).json()["error_rate"] == 0
        assert (await http.delete("/_sandbox/faults")).json() == defaults
        assert (await http.get("/_sandbox/faults")).json() == defaults
