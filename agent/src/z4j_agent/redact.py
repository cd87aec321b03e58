"""Redaction before anything leaves the process: recursive, by key and by value shape, bounded in
size and depth, cycle-safe. Mirrors backend/src/redact/redact.ts; both pass
tests/fixtures/redaction-corpus.json."""

from __future__ import annotations

import array
import collections
import datetime
import decimal
import functools
import itertools
import re
import uuid
from typing import Any, Callable, Iterable

from .os_signals import reraise_if_from_a_signal_handler
from .records import UNREADABLE, record_of

REDACTED = "[redacted]"

_SENSITIVE_KEY_PART = re.compile(
    r"(password|passwd|passphrase|passcode|secret|token|apikey|accesskey|privatekey|authorization|authheader|cookie|credential|sessionid|sessid"
    r"|signature|creditcard|cardnumber|cvv|(?:account|encryption|signing|master|ssh|client|tls|storage)key)"
)
_SENSITIVE_KEY_EXACT = {"pwd", "pass", "pw", "auth", "pin", "ssn", "otp", "dsn", "jwt", "bearer", "sig"}
# Words that name a password wherever they stand in a key: db_pass, userPwd, ldap-bind-pw.
_PASSWORD_WORDS = {"pass", "pwd", "pw"}
_KEY_NOISE = re.compile(r"[-_.\s]")
_KEY_WORDS = re.compile(r"[-_.\s]+|(?<=[a-z0-9])(?=[A-Z])")


def _sensitive_key(key: str, extra: tuple[str, ...]) -> bool:
    k = _KEY_NOISE.sub("", key.lower())
    if k in _SENSITIVE_KEY_EXACT or _SENSITIVE_KEY_PART.search(k):
        return True
    if any(w.lower() in _PASSWORD_WORDS for w in _KEY_WORDS.split(key)):
        return True
    return _named(k, extra)


def _named(k: str, extra: tuple[str, ...]) -> bool:
    """Whether `k` (a key lower-cased, without '-', '_', '.' or spaces) is one of `extra`'s names."""
    return any(_KEY_NOISE.sub("", e.lower()) == k for e in extra)


# Keys repeat from task to task (kwargs names): remember the answers, within a bound.
_key_answers: dict[tuple[str, tuple[str, ...]], bool] = {}


def is_sensitive_key(key: str, extra: Iterable[str] = ()) -> bool:
    """apiKey, api-key and API_KEY are one key: compared without case, '-', '_', '.' or spaces."""
    extra = extra if isinstance(extra, tuple) else tuple(extra)
    answer = _key_answers.get((key, extra))
    if answer is None:
        answer = _sensitive_key(key, extra)
        if len(_key_answers) >= 4096:
            _key_answers.clear()
        _key_answers[(key, extra)] = answer
    return answer


# "PRIVATE KEY" in any letter case (JavaScript's mirror has no scoped case flag).
_PRIVATE_KEY = "[Pp][Rr][Ii][Vv][Aa][Tt][Ee] [Kk][Ee][Yy]"
_VALUE_PATTERNS = re.compile(
    "|".join(
        f"(?:{p})"
        for p in [
            r"-----BEGIN [A-Za-z0-9 ]{0,40}" + _PRIVATE_KEY + r"[A-Za-z0-9 ]{0,40}-----[\s\S]*?(?:-----END [A-Za-z0-9 ]{0,40}" + _PRIVATE_KEY + r"[A-Za-z0-9 ]{0,40}-----|$)",  # PEM and PGP keys
            r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}",  # JWT / JWS
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
            r"\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}",  # GitHub
            r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
            r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
            r"\bAIza[0-9A-Za-z_-]{35}\b",  # Google API key
            r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",  # OpenAI / Anthropic style
            r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab
            r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",  # SendGrid
            r"\bnpm_[A-Za-z0-9]{36}\b",  # npm
            r"\bhf_[A-Za-z0-9]{30,}\b",  # Hugging Face
            r"\bwhsec_[A-Za-z0-9+/=]{20,}",  # webhook signing secrets (Stripe, Svix)
            r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]+",  # Slack webhook URLs
        ]
    )
)
_MAYBE_SECRET = re.compile(r"[:=@]|eyJ|AKIA|ASIA|gh[pousr]_|github_pat_|xox|_live_|_test_|AIza|sk-|glpat-|SG\.|-----BEGIN|Bearer|Basic|Token|npm_|hf_|whsec_|-pass|-pwd", re.I)
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Token)\s+([A-Za-z0-9._~+/=-]{8,})", re.I)
_PROSE_WORD = re.compile(r"[a-z]+").fullmatch


def _hide_credential(m: re.Match[str]) -> str:
    # "Basic" before a lowercase word is prose ("Basic authentication required"), not a header:
    # base64 credentials are never one lowercase word.
    if m.group(1).lower() == "basic" and _PROSE_WORD(m.group(2)):
        return m.group(0)
    return f"{m.group(1)} {REDACTED}"
# scheme://user:password@host, the password running to the last "@" (it may hold "@" or "/").
_URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]{0,30}://[^/\s:@'\"]*):([^\s'\"]{1,1024})@(?=[^\s@/'\"]+)", re.I)
# scheme://<token>@host: a long userinfo without a password is the token (a git remote's).
_URL_TOKEN = re.compile(r"\b([a-z][a-z0-9+.-]{0,30}://)[A-Za-z0-9_-]{16,1024}@", re.I)
# --password secret, --pass=secret on a command line.
_CLI_PASSWORD = re.compile(r"(--?(?:password|passwd|pass|pwd)[ =])[^\s'\"]+", re.I)
# A name is a whole run of name characters (the pattern starts only where a run starts) that
# holds a sensitive word, is a short one, or ends in one: looked ahead for, then the run taken
# whole, so a failed match costs one pass over the run, whatever its length (a lazy prefix
# before the word and a greedy suffix after it cost the square of it: 3 s for 32 KB).
# Generous on purpose: every name matched is put to is_sensitive_key, which decides.
_KEY_NAME = (
    r"(?=[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|passcode|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|authorization|auth[-_]?header|cookie|credential|session[-_]?id|sessid|signature|credit[-_]?card|card[-_]?number|cvv"
    r"|(?:account|encryption|signing|master|ssh|client|tls|storage)[-_]?key)"
    r"|(?:pwd|pass|pw|auth|pin|ssn|otp|dsn|jwt|sig)(?![A-Za-z0-9_.-])"
    r"|[A-Za-z0-9_.-]*?(?:pass|pwd|pw)(?![A-Za-z0-9_.-]))"
    r"[A-Za-z0-9_.-]+"
)
# What follows a name in a name = value pair (groups: 1 the name's quote, 3 the separator, 4 the
# value's quote, 5 a quoted value, 6 a bare one). A quoted value runs to its closing quote, or to
# the end of its line when it has none (a message cut short, "password='hunter2" in an
# exception's text).
_PAIR_VALUE = r"\1(\s*[:=]\s*)(?:([\"'])((?:\\.|(?!\4)[^\r\n])*)(?:\4|(?=[\r\n])|$)|([^\s,;&'\"}\])]+))"
_KEY_VALUE = re.compile(r"([\"']?)(?<![A-Za-z0-9_.-])(" + _KEY_NAME + r")" + _PAIR_VALUE, re.I)


# A name = value (or name: value) pair of any name, for the names a policy adds (redact_keys):
# _KEY_VALUE finds the built-in names by their words; a policy's may be any word. It starts only
# where a run of name characters starts, so a failed match costs one pass over that run (linear).
_ANY_KEY_VALUE = re.compile(r"([\"']?)(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]+)" + _PAIR_VALUE)


def _value_hider(hides: Callable[[str], bool]) -> Callable[[re.Match[str]], str]:
    """A substitution for _KEY_VALUE / _ANY_KEY_VALUE: the value hidden where `hides` the name,
    and not hidden twice."""

    def repl(m: re.Match[str]) -> str:
        q, key, sep, vq = m.group(1), m.group(2), m.group(3), m.group(4)
        if not hides(key) or (not vq and m.group(6).startswith(REDACTED[:-1])):
            return m.group(0)
        return f"{q}{key}{q}{sep}{vq}{REDACTED}{vq}" if vq else f"{q}{key}{q}{sep}{REDACTED}"

    return repl


_hide_sensitive = _value_hider(is_sensitive_key)


def hide_named(s: str, extra: tuple[str, ...]) -> str:
    """`s` with the values of a policy's own key names (`extra`) hidden where the text names them
    (`customer_ref=…` in an exception's message), as redact_text hides the built-in ones. Only
    for a policy that adds names: nothing else calls it."""
    if not extra or ("=" not in s and ":" not in s):
        return s
    return _ANY_KEY_VALUE.sub(_value_hider(lambda key: _named(_KEY_NOISE.sub("", key.lower()), extra)), s)


# The same test as _MAYBE_SECRET for ASCII text, several times faster on text that has none of
# them (most of it): lowercase substrings, found with `in`.
_MARKERS = (":", "=", "@", "eyj", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "_live_", "_test_",
            "aiza", "sk-", "glpat-", "sg.", "-----begin", "bearer", "basic", "token", "npm_", "hf_", "whsec_", "-pass", "-pwd")


def _maybe_secret(s: str) -> bool:
    if not s.isascii():  # IGNORECASE folds some non-ASCII letters (ſ, K, İ) onto ASCII ones: the regex decides
        return _MAYBE_SECRET.search(s) is not None
    low = s.lower()
    for marker in _MARKERS:
        if marker in low:
            return True
    return False


# A UUID or a hex digest (task ids, root and parent ids): unique per task, so remembering it
# would only push the names out of `_redact_short`'s memory. Only hex digits and '-': no marker
# of `_MARKERS` can occur in it (each has a letter past 'f' or punctuation), so it has no secret.
HEX_ID = re.compile(r"[0-9a-fA-F-]+").fullmatch


def redact_text(s: str) -> str:
    """Hides secret-shaped substrings of free text (reprs, query strings, tracebacks)."""
    n = len(s)
    if n < 8:
        return s
    if n <= 256:
        if (n == 36 or n == 32) and HEX_ID(s):
            return s
        return _redact_short(s)
    return _redact(s) if _maybe_secret(s) else s


# Short strings repeat from event to event (task names, queues, worker names, small args): the
# answer for each is remembered, the most recently used first. A pure function of the string.
@functools.lru_cache(maxsize=4096)
def _redact_short(s: str) -> str:
    return _redact(s) if _maybe_secret(s) else s


def _redact(s: str) -> str:
    out = _VALUE_PATTERNS.sub(REDACTED, s)
    out = _AUTH_SCHEME.sub(_hide_credential, out)
    out = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}:{REDACTED}@", out)
    out = _URL_TOKEN.sub(lambda m: f"{m.group(1)}{REDACTED}@", out)
    out = _CLI_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}", out)
    if ":" in out or "=" in out:
        out = _KEY_VALUE.sub(_hide_sensitive, out)
    return out


def _cut(s: str, limit: int) -> str:
    return s if len(s) <= limit else f"{s[:limit]}…[{len(s) - limit} more chars]"


# How far past a cut a string is still read for secrets: one that straddles the cut (a quoted
# password whose closing quote lies past it) is hidden before the cut, not left half-shown.
_SCAN_PAST_CUT = 512


def _redact_cut(s: str, limit: int) -> str:
    """`redact_text`, then `_cut`, reading only a little past the limit."""
    if len(s) <= limit:
        return redact_text(s)
    return _redact_head(s[:limit + _SCAN_PAST_CUT], len(s), limit)


def _redact_head(head: str, length: int, limit: int) -> str:
    """`_redact_cut` of a string of `length` characters (more than `limit`) from its first
    limit + _SCAN_PAST_CUT characters, all it reads of it."""
    return f"{redact_text(head)[:limit]}…[{length - limit} more chars]"


class LongText:
    """A string longer than scrub's cut (32 KiB), as a task's thread leaves it in a snapshot
    (snapshot.plain_copy): the head redaction reads and the string's length, not the string.
    Redacting it is the sender's work (`scrub_plain`): done on the task's thread it cost a task
    returning 75 KB of JSON text some 50 ms per run (redaction reads ~1-2 µs per character)."""

    __slots__ = ("head", "length")

    def __init__(self, s: str, limit: int = 32768) -> None:
        self.head = s[:limit + _SCAN_PAST_CUT]
        self.length = len(s)


_NOTHING: frozenset[str] = frozenset()
UNREDACTABLE = "[unredactable]"
TYPE_KEY = "__type__"  # a record's type name, first among its fields (scrub)
# What one scrub reads in all (items of containers, characters of strings), past which it cuts as
# it cuts past max_items. The limits per level alone let it read 500 items at each of 10 levels:
# a value whose containers share their items (`[[row] * 500] * 500`, a few KB pickled: RQ, Huey
# and arq keep the sharing) made a walk of 500**depth in the task's thread (10M items: 3 s, and
# an event too big to send), and a list of 500 strings of 32 KiB 16M characters of redaction
# (~1-2 µs each: 14 s). At 64K: under 0.1 s, read mostly as text full of name=value pairs, and
# about what a quarter of a batch carries anyway.
MAX_TOTAL = 65536
# Sequences walked like a list, not repr'd: their repr would be built whole in the task's thread.
_BIG_SEQUENCES = (collections.deque, array.array)
_SEQUENCES = (list, tuple, set, frozenset, *_BIG_SEQUENCES)
_NOT_RECORDS = frozenset(_SEQUENCES)  # exact types: not even looked at as records (records.record_of)


def _is_secret_pair(v: Any, extra: tuple[str, ...], keep: frozenset[str] | set[str]) -> bool:
    """A [name, value] pair whose name is a sensitive key: headers as a list of pairs
    ([("X-Api-Key", "…")]), form fields, environment items."""
    if len(v) != 2 or type(v[0]) is not str or len(v[0]) > 256 or not is_sensitive_key(v[0], extra):
        return False
    x = v[1]
    return (not keep or v[0].lower() not in keep) and (type(x) is not str or x != "") and x is not None


def scrub_str(s: str, max_string: int = 32768) -> str:
    """`scrub` of a string, without its set-up."""
    return _redact_cut(s, max_string)


def keep_set(keep_keys: Iterable[str]) -> frozenset[str]:
    """`scrub`'s form of keep_keys (compared in lower case), for `scrub_plain`."""
    return frozenset(k.lower() for k in keep_keys) if keep_keys else _NOTHING


_MAX_SAFE_INT = 2**53
_INF = float("inf")
_SAFE_AS_THEY_ARE = frozenset((int, bool))  # within ±2**53 (bools are): what scrub keeps unchanged


def scrub_plain(v: Any, extra: tuple[str, ...] = (), keep: frozenset[str] = _NOTHING) -> Any:
    """`scrub(v, redact_keys=extra, keep_keys=keep)` of a plain copy (snapshot.plain_copy: JSON
    scalars, strings, lists and str-keyed dicts of them, at most 64 items and 4 levels deep, a
    fresh tree without cycles; a string over 32 KiB as a LongText), the same result without the generic walk's set-up and type
    checks: the sender redacts one or two of these per event (args, kwargs, result).
    tests/unit/test_hot_path.py checks it against `scrub`."""
    t = type(v)
    if t is str:
        text = redact_text(v) if len(v) <= 32768 else _redact_cut(v, 32768)
        return hide_named(text, extra) if extra else text
    if t is dict:
        out: dict[str, Any] = {}
        for key, x in v.items():
            if len(key) > 256:
                key = _cut(key, 256)
            if x is not None and x != "" and is_sensitive_key(key, extra) and (not keep or key.lower() not in keep):
                out[redact_text(key)] = REDACTED
            else:
                out[redact_text(key)] = x if type(x) in _SAFE_AS_THEY_ARE and -_MAX_SAFE_INT < x < _MAX_SAFE_INT else scrub_plain(x, extra, keep)
        return out
    if t is list:
        if _is_secret_pair(v, extra, keep):
            return [scrub_plain(v[0], extra, keep), REDACTED]
        # Small ints and bools as they are, without a call each (the usual args: ids, counts).
        return [x if type(x) in _SAFE_AS_THEY_ARE and -_MAX_SAFE_INT < x < _MAX_SAFE_INT else scrub_plain(x, extra, keep) for x in v]
    if t is int:
        return v if -_MAX_SAFE_INT < v < _MAX_SAFE_INT else str(v)
    if t is float:
        return v if v == v and v != _INF and v != -_INF else None
    if v is None or t is bool:
        return v
    if t is LongText:  # a long string, cut by the task's thread
        text = _redact_head(v.head, v.length, 32768)
        return hide_named(text, extra) if extra else text
    return scrub(v, redact_keys=extra, keep_keys=keep)  # not plain after all: the generic walk


def scrub(
    value: Any,
    *,
    redact_keys: Iterable[str] = (),
    keep_keys: Iterable[str] = (),
    max_string: int = 32768,
    max_depth: int = 10,
    max_items: int = 500,
    max_total: int = MAX_TOTAL,
) -> Any:
    """A JSON-safe, bounded copy of `value` with secrets hidden. Never raises. Bounded in total
    too (`max_total`, see MAX_TOTAL): what is past it is cut as what is past `max_items`. A
    record (records.py: a dataclass, pydantic or attrs instance, a namedtuple) is a dict of its
    fields, its type's name first under TYPE_KEY ({"__type__": "Order", "id": 7, "password":
    "[redacted]"}); any other object is its repr, cut to 1,024 characters."""
    t = type(value)  # the values of most fields, without the set-up below
    if t is str and len(value) <= max_string and not redact_keys:
        return redact_text(value)
    if t is bool or value is None:
        return value
    if t is int and -(2**53) < value < 2**53:
        return value
    extra = redact_keys if type(redact_keys) is tuple else tuple(redact_keys)
    keep = {k.lower() for k in keep_keys} if keep_keys else _NOTHING
    ancestors: set[int] = set()
    left = max_total  # what the walk may still read: items of containers, and characters of strings

    def text(s: str) -> str:  # a string's secrets hidden, and the policy's own names' values
        return hide_named(s, extra) if extra else s

    def cut(s: str, cap: int) -> str:
        """A string past `cap`, or past what is left of the total: cut, the rest counted."""
        nonlocal left
        limit = min(cap, left)
        if len(s) <= limit:
            left -= len(s)
            return text(redact_text(s))
        left -= limit
        return text(_redact_cut(s, limit)) if limit else f"…[{len(s)} more chars]"

    def entries(items: Iterable[tuple[Any, Any]], count: int, out: dict[str, Any], depth: int) -> dict[str, Any]:
        """A mapping's `count` entries into `out`, each value hidden under a sensitive key, else walked."""
        nonlocal left
        take = count  # taken from the total before the entries are walked (not min(): a call)
        if take > max_items:
            take = max_items
        if take > left:
            take = left
        left -= take
        for n, (raw_key, x) in enumerate(items):
            if n >= take:
                out["[more keys]"] = count - n
                break
            key = raw_key if type(raw_key) is str and len(raw_key) <= 256 else _cut(str(raw_key), 256)
            hide = is_sensitive_key(key, extra) and (not keep or key.lower() not in keep) and x is not None and (type(x) is not str or x != "")
            out[redact_text(key)] = REDACTED if hide else UNREDACTABLE if x is UNREADABLE else walk(x, depth + 1)
        return out

    def walk(v: Any, depth: int) -> Any:
        nonlocal left
        t = type(v)  # the common exact types first (a hot path: every task's args and kwargs)
        if t is str:
            n = len(v)
            if n <= max_string and n <= left:
                left -= n
                return text(redact_text(v))
            return cut(v, max_string)
        if t is int:
            return v if -(2**53) < v < 2**53 else str(v)
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            return v if -(2**53) < v < 2**53 else str(v)
        if isinstance(v, float):
            return v if v == v and v not in (float("inf"), float("-inf")) else None
        if isinstance(v, str):
            return cut(v, max_string)
        if isinstance(v, (bytes, bytearray, memoryview)):
            return f"<{len(v)} bytes>"
        if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
            return v.isoformat()
        if isinstance(v, (decimal.Decimal, uuid.UUID)):
            return str(v)
        if depth >= max_depth:
            return "[depth limit]"
        if id(v) in ancestors:
            return "[cycle]"
        ancestors.add(id(v))
        try:
            if isinstance(v, dict):
                return entries(v.items(), len(v), {}, depth)
            # A record (a dataclass, pydantic model, attrs instance, namedtuple): its fields, as a
            # dict's entries, after its type's name. Its repr would be made whole (a field of a
            # million items: ~100 ms), and hide a `password` field only where its text looks like
            # name=value; a namedtuple walked as a tuple would show its values without their names.
            if t not in _NOT_RECORDS:
                record = record_of(v)
                if record is not None:
                    name, count, fields = record
                    return entries(fields, count, {TYPE_KEY: _cut(name, 256)}, depth)
            if isinstance(v, (list, tuple)) and _is_secret_pair(v, extra, keep):
                return [walk(v[0], depth + 1), REDACTED]
            # Only the head is read: a copy of the whole first cost 78 ms for a 5M-item list.
            # Deques and arrays too, rather than repr'd: their repr is built whole (a 5M-item deque: 1.3 s).
            if isinstance(v, _SEQUENCES):
                take = len(v)
                if take > max_items:
                    take = max_items
                if take > left:
                    take = left
                left -= take
                head = v[:take] if isinstance(v, (list, tuple)) else itertools.islice(v, take)
                out_list = [walk(x, depth + 1) for x in head]
                if len(v) > take:
                    out_list.append(f"[{len(v) - take} more items]")
                return out_list
            # Other objects keep their repr, cut: a plain object's __dict__ is not read, its class
            # chose what to show of it (object's repr shows none of its state, and its private
            # attributes, a client's or a connection's, are not data its author meant to show).
            try:
                shown = repr(v)
            except Exception as caught:  # a broken __repr__ must not break the task
                reraise_if_from_a_signal_handler(caught)
                shown = f"<{type(v).__name__}>"
            # Not BaseException: KeyboardInterrupt, SystemExit, a Dramatiq Interrupt (a time limit,
            # z4j's own terminate), gevent's Timeout, CancelledError are requests to stop, most of
            # them raised from outside at whatever line runs, this one too. Caught, they would be lost.
            return cut(shown, 1024)
        except Exception as caught:  # a mapping or sequence that breaks while read: only it is lost, not its siblings
            reraise_if_from_a_signal_handler(caught)
            return UNREDACTABLE
        finally:
            ancestors.discard(id(v))

    try:
        return walk(value, 0)
    except Exception as caught:  # never raise into the task
        reraise_if_from_a_signal_handler(caught)
        return UNREDACTABLE
