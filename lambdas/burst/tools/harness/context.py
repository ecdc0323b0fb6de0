"""Lambda's context object, as far as the handlers and Powertools read it.

The deadline is `seconds` from creation on `clock` (the real monotonic clock unless given
one), so a handler's deadlines behave as deployed; `burst invoke` gives it the function's
deployed timeout.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from burst.tools.deploy.functions import MEMORY_MB


@dataclass
class LambdaContext:
    seconds: float  # from creation to the deadline
    function_name: str = "fpga-burst-local"
    memory_limit_in_mb: int = MEMORY_MB  # as deployed
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.seconds - self.clock()) * 1000))
