"""The one shape of injected faults: a control body (unknown fields refused, every assignment validated)
holding what both simulators inject; each simulator extends it with its own faults.

`error_rate` is the share of calls (of the simulated API, never of the control API) answered with a server
error. Rates are between 0 and 1, counts of "the next N calls" at least 0.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import ConfigDict, Field

from rakuten_connector.sandbox.bodies import ControlBody

Rate = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


class Faults(ControlBody):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    error_rate: Rate = 0.0

    def updated(self, changes: Self) -> Self:
        """These faults with the fields `changes` set replaced (the others kept)."""
        return self.model_validate({**self.model_dump(), **changes.model_dump(exclude_unset=True)})
