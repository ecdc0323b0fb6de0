"""What moto 5.2.1 does not implement, for the calls the tests make: CompleteLifecycleAction
and RecordLifecycleActionHeartbeat. For those operations only, a botocore Stubber scoped
to them stands in (OperationStubber), and moto answers everything else. (The harness,
burst.tools.harness.moto, answers DescribeScalingActivities, which moto answers with [].)
"""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

LIFECYCLE_CALLS = ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat")


class OperationStubber(Stubber):  # type: ignore[misc]  # botocore is untyped here
    """A botocore Stubber that answers only `operations` and lets every other call through.

    A plain Stubber intercepts every call of its client; scoping it keeps moto answering
    the calls moto implements.
    """

    def __init__(self, client: Any, *operations: str) -> None:
        super().__init__(client)
        self.operations = frozenset(operations)

    def _get_response_handler(self, model: Any, params: Any, context: Any, **kwargs: Any) -> Any:
        if model.name not in self.operations:
            return None
        return super()._get_response_handler(model, params, context, **kwargs)

    def _assert_expected_params(self, model: Any, params: Any, context: Any, **kwargs: Any) -> None:
        if model.name in self.operations:
            super()._assert_expected_params(model, params, context, **kwargs)
