"""botocore Stubber scoped to named operations, for the calls moto 5.2.1 lacks or fakes.

moto answers DescribeScalingActivities with an empty list and does not implement
CompleteLifecycleAction or RecordLifecycleActionHeartbeat; OperationStubber answers only
the operations named and lets every other call through to moto.
"""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber


class OperationStubber(Stubber):
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
