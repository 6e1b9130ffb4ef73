"""EvalSuiteWorkflow: what the daily Schedule starts on the deployment's task queue (evals/schedule.py).

One activity does the work (evals/scheduled.py): the suite's runs, the stored result, the drift check.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    # The activity's definition and the contracts: pure imports, not re-imported per run.
    from evals.scheduled import EvalActivities
    from evals.suite_models import EvalSuiteRequest, EvalSuiteResult


@workflow.defn(name="EvalSuiteWorkflow")
class EvalSuiteWorkflow:
    @workflow.run
    async def run(self, request: EvalSuiteRequest) -> EvalSuiteResult:
        return await workflow.execute_activity_method(
            EvalActivities.run_suite,
            request,
            start_to_close_timeout=timedelta(hours=3),  # the local model takes tens of minutes
            heartbeat_timeout=timedelta(minutes=5),  # a beat per finished case
            retry_policy=RetryPolicy(maximum_attempts=2),
        )
