"""The one Faults shape both simulators extend, and the control-body reading they share."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rakuten_connector.sandbox import faults
from rakuten_connector.sandbox.bodies import ControlBody
from rakuten_connector.sandbox.cubyn import bodies as cubyn
from rakuten_connector.sandbox.rakuten import bodies as rakuten


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


def test_updated_replaces_only_the_fields_given() -> None:
    current = cubyn.Faults(latency_ms=40, errors_next=2)
    changed = current.updated(cubyn.Faults.model_validate({"errors_next": 0, "duplicate_deliveries": True}))
    assert (changed.latency_ms, changed.errors_next, changed.duplicate_deliveries) == (40, 0, True)
    assert (current.errors_next, current.duplicate_deliveries) == (2, False)
