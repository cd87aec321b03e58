"""Agent settings: arguments, then Z4J_* environment variables, then defaults. A bad value
disables the agent with one warning; it never raises into the host."""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass, fields
from typing import Any

from .redis_sentinel import is_sentinel_url
from .redis_sentinel import parse as parse_sentinel_url
from .transport import failover_urls


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    project: str = "default"
    agent_id: str = ""
    agent_secret: str = ""
    transport: str = "auto"  # auto | redis | amqp | http
    broker_url: str = ""
    http_url: str = ""
    redact_keys: tuple[str, ...] = ()
    keep_keys: tuple[str, ...] = ()
    sample: float = 1.0
    buffer_size: int = 10_000
    buffer_max_bytes: int = 64 * 1024 * 1024  # what the buffer holds, weighed (encoded payloads, batches put back, snapshots while behind)
    batch_size: int = 500
    flush_interval: float = 0.2
    stream_maxlen: int = 1_000_000
    exit_flush_timeout: float = 2.0
    heartbeat_interval: float = 10.0
    amqp_queue: str = "z4j.events"
    amqp_queue_max_bytes: int = 1_073_741_824  # as the service's Z4J_AGENT_AMQP_QUEUE_MAX_BYTES

    @property
    def enabled(self) -> bool:
        return bool(self.agent_id and self.agent_secret)


_ENV = {f.name: f"Z4J_{f.name.upper()}" for f in fields(Config)}
MAX_AMQP_QUEUE_BYTES = 1_099_511_627_776  # 1 TiB, as the service's Z4J_AGENT_AMQP_QUEUE_MAX_BYTES


def _convert(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, tuple):
        items = raw if isinstance(raw, (list, tuple)) else [x.strip() for x in str(raw).split(",")]
        return tuple(x for x in items if x)
    if isinstance(default, bool):
        return str(raw).lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return str(raw)


def _check_broker_urls(broker_url: str) -> None:
    """A failover list's URLs (`;` between them) are all of one broker kind; a sentinel one names
    its sentinels and master."""
    urls = [u for u in failover_urls(broker_url) if u]
    kinds = {u.split("://", 1)[0].replace("rediss", "redis").replace("amqps", "amqp").replace("pyamqp", "amqp") for u in urls}
    if len(kinds) > 1:
        raise ConfigError(f"Z4J_BROKER_URL: a failover list (URLs separated by ;) names nodes of one broker, not {', '.join(sorted(kinds))}")
    for url in urls:
        if is_sentinel_url(url):
            try:
                parse_sentinel_url(url)
            except ValueError as err:
                raise ConfigError(f"Z4J_BROKER_URL: {err}") from None


def load_config(**overrides: Any) -> Config:
    values: dict[str, Any] = {}
    for f in fields(Config):
        raw = overrides.get(f.name)
        if raw is None:
            raw = os.environ.get(_ENV[f.name])
        if raw is None or raw == "":
            continue
        try:
            values[f.name] = _convert(f.name, raw, f.default)
        except (TypeError, ValueError):
            raise ConfigError(f"{_ENV[f.name]}={raw!r} is not a valid {type(f.default).__name__}") from None
    cfg = Config(**values)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", cfg.project):
        raise ConfigError(f"Z4J_PROJECT={cfg.project!r}: a lowercase slug")
    if cfg.transport not in ("auto", "redis", "amqp", "http"):
        raise ConfigError(f"Z4J_TRANSPORT={cfg.transport!r}: auto, redis, amqp or http")
    if not 0.0 <= cfg.sample <= 1.0:
        raise ConfigError("Z4J_SAMPLE: between 0 and 1")
    if cfg.buffer_size < 10 or cfg.batch_size < 1 or cfg.batch_size > 1000:
        raise ConfigError("Z4J_BUFFER_SIZE >= 10 and 1 <= Z4J_BATCH_SIZE <= 1000")
    if cfg.buffer_max_bytes < 1024 * 1024:
        raise ConfigError(f"Z4J_BUFFER_MAX_BYTES={cfg.buffer_max_bytes}: at least 1048576 (a batch's size)")
    # RabbitMQ refuses a queue declared with a negative x-max-length-bytes: every send would fail.
    if not 0 <= cfg.amqp_queue_max_bytes <= MAX_AMQP_QUEUE_BYTES:
        raise ConfigError(f"Z4J_AMQP_QUEUE_MAX_BYTES={cfg.amqp_queue_max_bytes}: between 0 (no bound) and {MAX_AMQP_QUEUE_BYTES}")
    _check_broker_urls(cfg.broker_url)
    if cfg.stream_maxlen < 1:
        raise ConfigError(f"Z4J_STREAM_MAXLEN={cfg.stream_maxlen}: at least 1 (events)")
    # The sender and heartbeat threads wait these between rounds: zero or less spins a core (and
    # floods the buffer with heartbeats); a non-finite one cannot be waited for.
    _at_least("Z4J_FLUSH_INTERVAL", cfg.flush_interval, 0.01)
    _at_least("Z4J_HEARTBEAT_INTERVAL", cfg.heartbeat_interval, 0.1)
    _at_least("Z4J_EXIT_FLUSH_TIMEOUT", cfg.exit_flush_timeout, 0.0)
    return cfg


# Read by the agent besides its settings (policy.load_env_policies).
_OTHER_VARIABLES = ("Z4J_TASK_POLICIES",)
# The z4j service's own settings that are within a typo of one of the agent's: set beside it
# (one env file for the service and the workers), not misspelled.
_SERVICE_VARIABLES_NEARBY = frozenset(("Z4J_SMTP_URL",))
_MAX_TYPO_EDITS = 2


def misspelled_variables(env: Any = None) -> list[tuple[str, str]]:
    """Z4J_* variables that are not the agent's but within two edits of one (Z4J_SAMPEL,
    Z4J_AGENT_SECRT), each with the one it resembles: such a typo leaves the setting at its
    default without a word. Names further from every setting (the service's, scripts') are
    left alone."""
    env = os.environ if env is None else env
    known = (*_ENV.values(), *_OTHER_VARIABLES)
    out = []
    for name in sorted(env):
        if not name.startswith("Z4J_") or name in known or name in _SERVICE_VARIABLES_NEARBY:
            continue
        edits, meant = min((_edits(name, k), k) for k in known)
        if edits <= _MAX_TYPO_EDITS:
            out.append((name, meant))
    return out


def _edits(a: str, b: str) -> int:
    """The Levenshtein distance (insertions, deletions, substitutions): the standard library
    has none, and the agent takes no dependency of its own."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _at_least(variable: str, seconds: float, minimum: float) -> None:
    # At most what a thread can wait: past threading.TIMEOUT_MAX a wait raises OverflowError (the
    # sender thread died at its first wait, and every flush waited out its whole timeout).
    if not (math.isfinite(seconds) and minimum <= seconds <= threading.TIMEOUT_MAX):
        raise ConfigError(f"{variable}={seconds!r}: a number of seconds, at least {minimum:g} and at most {threading.TIMEOUT_MAX:g}")
