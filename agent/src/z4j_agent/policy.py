"""Per-task overrides: redact more keys, keep a key, skip a task entirely, or sample it.

    @z4j_agent.policy(redact=["iban"], sample=0.1)
    def charge(...): ...

    z4j_agent.task_policy("billing.charge", keep=["token_count"])

`Z4J_TASK_POLICIES` (JSON: {"task name": {"redact": [...], "keep": [...], "skip": true, "sample": 0.5}})
applies to tasks by name without touching their code."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Callable

from .config import ConfigError

_ATTR = "__z4j_policy__"


@dataclass(frozen=True)
class TaskPolicy:
    redact: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    skip: bool = False
    sample: float = 1.0

    def sampled(self, task_id: str) -> bool:
        """Decided by the task id, so every event of a sampled task is kept, in every process."""
        if self.sample >= 1.0:
            return True
        if self.sample <= 0.0:
            return False
        h = int.from_bytes(hashlib.blake2b(task_id.encode(), digest_size=8).digest(), "big")
        return h / 2**64 < self.sample


DEFAULT = TaskPolicy()
_by_name: dict[str, TaskPolicy] = {}
# Whether any policy was ever made (by name, by decorator or from Z4J_TASK_POLICIES): until then
# every task has DEFAULT, and the agent skips the lookup per event.
in_use = False


def _make(redact=(), keep=(), skip=False, sample=1.0) -> TaskPolicy:
    global in_use
    in_use = True
    return TaskPolicy(tuple(redact), tuple(keep), bool(skip), max(0.0, min(1.0, float(sample))))


def task_policy(name: str, *, redact=(), keep=(), skip: bool = False, sample: float = 1.0) -> None:
    _by_name[name] = _make(redact, keep, skip, sample)


def policy(*, redact=(), keep=(), skip: bool = False, sample: float = 1.0) -> Callable[[Any], Any]:
    """Decorator for a task function (apply it under the engine's own decorator)."""

    def mark(func: Any) -> Any:
        try:
            setattr(func, _ATTR, _make(redact, keep, skip, sample))
        except Exception:
            pass
        _by_func.clear()
        return func

    return mark


def load_env_policies(raw: str | None = None) -> None:
    """Z4J_TASK_POLICIES, all checked before any is applied: a value of the wrong shape is a
    ConfigError naming the variable (the agent then stays off, with one warning)."""
    raw = raw if raw is not None else os.environ.get("Z4J_TASK_POLICIES")
    if not raw:
        return
    try:
        found = json.loads(raw)
    except ValueError as err:
        raise ConfigError(f"Z4J_TASK_POLICIES is not JSON ({err})") from None
    if not isinstance(found, dict):
        raise ConfigError('Z4J_TASK_POLICIES: a JSON object {"task name": {"redact": [...], "keep": [...], "skip": true, "sample": 0.5}}')
    checked = {name: _checked_options(name, opts) for name, opts in found.items()}
    _by_name.update({name: _make(**opts) for name, opts in checked.items()})


def _checked_options(name: str, opts: Any) -> dict[str, Any]:
    where = f"Z4J_TASK_POLICIES[{name!r}]"
    if not isinstance(opts, dict):
        raise ConfigError(f'{where}: an object such as {{"redact": ["iban"], "sample": 0.5}}')
    for key, value in opts.items():
        if key in ("redact", "keep"):
            ok = isinstance(value, list) and all(isinstance(k, str) for k in value)
            rule = "a list of key names"
        elif key == "skip":
            ok, rule = isinstance(value, bool), "true or false"
        elif key == "sample":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0
            rule = "a number between 0 and 1"
        else:
            raise ConfigError(f"{where}: unknown option {key!r} (redact, keep, skip, sample)")
        if not ok:
            raise ConfigError(f"{where}.{key}={value!r}: {rule}")
    return opts


# function → its decorator's policy or None: asked for every event, answered once per function
# (engines hand over bound methods: a new object each time, the same function under it).
_by_func: dict[Any, TaskPolicy | None] = {}
_UNKNOWN = object()


def policy_for(name: str | None, func: Any = None) -> TaskPolicy:
    if func is not None:
        key = getattr(func, "__func__", func)
        try:
            p = _by_func.get(key, _UNKNOWN)
        except TypeError:  # not hashable: asked every time
            key, p = None, _UNKNOWN
        if p is _UNKNOWN:
            p = getattr(func, _ATTR, None)
            p = p if isinstance(p, TaskPolicy) else None
            if key is not None:
                if len(_by_func) >= 4096:
                    _by_func.clear()
                _by_func[key] = p
        if p is not None:
            return p
    return _by_name.get(name or "", DEFAULT)


