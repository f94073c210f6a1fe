"""The financing workflow, split by concern; see workflow.py for the map."""

from workflows.financing.workflow import FinancingWorkflow

__all__ = ["FinancingWorkflow"]
