"""z4j agent: captures task lifecycles inside worker and producer processes and delivers them,
signed and redacted, through the broker the worker already uses (see docs/agent-protocol.md)."""

from .core import Agent, get_agent
from .policy import policy, task_policy

__all__ = ["Agent", "get_agent", "policy", "task_policy"]
