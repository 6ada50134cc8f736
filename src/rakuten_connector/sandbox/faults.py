"""The one shape of injected faults: a control body (unknown fields refused, every assignment validated)
holding what both simulators inject; each simulator extends it with its own faults.

`latency_seconds` is how long each call (of the simulated API, never of the control API) waits before it is
answered, in seconds (0 to 120). `error_rate` is the share of those calls answered with a server error.
Rates are between 0 and 1, counts of "the next N calls" at least 0.

Both simulators answer `GET /_sandbox/faults` with the faults in force, replace them all with the body of
`PUT /_sandbox/faults` (a field it leaves out takes its default) and clear them on `DELETE`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from rakuten_connector.sandbox.bodies import ControlBody

Rate = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


class Faults(ControlBody):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    latency_seconds: float = Field(default=0.0, ge=0, le=120)
    error_rate: Rate = 0.0
