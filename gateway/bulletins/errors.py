"""Errors a person sees: each names the field (or action) and the rule, in Vietnamese."""

from __future__ import annotations


class WorkflowError(Exception):
    """An action not allowed in the bulletin's current state or for this user."""

    def __init__(self, field: str, message: str, status: int = 409, rule: str = "workflow") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status
        self.rule = rule
