// Scrubs untrusted payload (args, kwargs, results, tracebacks) before it is stored:
// secrets by key and by value shape, strings Postgres cannot hold, and size / depth / cycles.
// The agent scrubs at the source too; this is the second line (DESIGN principle 5).

export const REDACTED = '[redacted]';

export interface ScrubOptions {
  /** Longest string kept; longer ones are cut and marked. */
  maxStringChars: number;
  /** Deepest nesting kept; deeper values become a marker. */
  maxDepth: number;
  /** Most array items / object keys kept per container. */
  maxItems: number;
}

export const DEFAULT_SCRUB: ScrubOptions = { maxStringChars: 32768, maxDepth: 10, maxItems: 500 };

// Keys are compared without case, '-', '_', '.' or spaces: apiKey, api-key and API_KEY are one.
const SENSITIVE_KEY_PART = /(password|passwd|passphrase|secret|token|apikey|accesskey|privatekey|authorization|cookie|credential|sessionid|signature|creditcard|cardnumber|cvv)/;
const SENSITIVE_KEY_EXACT = new Set(['pwd', 'pass', 'auth', 'pin', 'ssn', 'otp', 'dsn', 'jwt', 'bearer']);

export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_.\s]/g, '');
  return SENSITIVE_KEY_EXACT.has(k) || SENSITIVE_KEY_PART.test(k);
}

// Secret shapes found inside any string. Each match is replaced by the marker.
const VALUE_PATTERN_LIST: RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, // PEM keys
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/g, // JWT / JWS
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key id
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}/g, // GitHub
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack
  /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/g, // Stripe
  /\bAIza[0-9A-Za-z_-]{35}\b/g, // Google API key
  /\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}/g, // OpenAI / Anthropic style
  /\bglpat-[A-Za-z0-9_-]{20,}/g, // GitLab
  /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g, // SendGrid
];
// One pass over the text for all of them (this runs on every argument of every event).
const VALUE_PATTERNS = new RegExp(VALUE_PATTERN_LIST.map((re) => `(?:${re.source})`).join('|'), 'g');
// Cheap test for "could hold a secret at all": most arguments are numbers, plain words and
// reprs of ordinary dicts. Every pattern below needs one of these: a secret's prefix, a URL's
// "://", or a part of a sensitive key's name (KEY_NAME) — so a text without any is left as is.
const MAYBE_SECRET = /pass|pwd|secret|token|key|auth|cookie|credential|session|signature|card|cvv|pin|ssn|otp|dsn|jwt|:\/\/|eyJ|AKIA|ASIA|gh[pousr]_|github_pat_|xox|_live_|_test_|AIza|sk-|glpat-|SG\.|-----BEGIN|Bearer|Basic/i;
// "Bearer abc…", "Basic dXNl…": keep the scheme, hide the credential.
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
// scheme://user:password@host → scheme://user:[redacted]@host
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]*):([^/\s@'"]+)@/gi;
// key = value / 'key': 'value' inside text (Python reprs, query strings, logs). Only keys that
// look sensitive are matched, so an ordinary pair never swallows a sensitive one after it.
const KEY_NAME = String.raw`(?:[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|authorization|cookie|credential|session[-_]?id|signature|credit[-_]?card|card[-_]?number|cvv)[A-Za-z0-9_.-]*|(?:pwd|pass|auth|pin|ssn|otp|dsn|jwt)(?![A-Za-z0-9_]))`;
const KEY_VALUE = new RegExp(
  String.raw`(["']?)(?<![A-Za-z0-9_.-])(${KEY_NAME})\1(\s*[:=]\s*)(?:(["'])((?:\\.|(?!\4).)*)\4|([^\s,;&'"}\])]+))`,
  'gi',
);

/** Hides secret-shaped substrings of free text. */
export function redactText(s: string): string {
  if (s.length < 8 || !MAYBE_SECRET.test(s)) return s;
  let out = s.replace(VALUE_PATTERNS, REDACTED);
  out = out.replace(AUTH_SCHEME, (_m, scheme: string) => `${scheme} ${REDACTED}`);
  out = out.replace(URL_CREDENTIALS, (_m, prefix: string) => `${prefix}:${REDACTED}@`);
  if (/[:=]/.test(out)) {
    out = out.replace(KEY_VALUE, (m, q: string, key: string, sep: string, vq: string | undefined) => {
      if (!isSensitiveKey(key)) return m;
      return vq ? `${q}${key}${q}${sep}${vq}${REDACTED}${vq}` : `${q}${key}${q}${sep}${REDACTED}`;
    });
  }
  return out;
}

// Postgres text and jsonb cannot hold NUL or lone UTF-16 surrogates.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Makes a string storable and bounded, without redaction. */
export function cleanString(s: string, maxChars: number): string {
  let out = s.replace(UNSTORABLE, '\ufffd');
  if (out.length > maxChars) out = `${out.slice(0, maxChars)}…[${out.length - maxChars} more chars]`;
  return out;
}

/** Deep copy of `value` that is JSON-safe, bounded and scrubbed of secrets. Never throws. */
export function scrub(value: unknown, opts: ScrubOptions = DEFAULT_SCRUB): unknown {
  // Most values scrubbed are a single string (Celery's args and results are reprs): no walk for those.
  if (typeof value === 'string') return redactText(cleanString(value, opts.maxStringChars));
  const ancestors = new Set<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v === 'boolean') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    if (typeof v === 'string') return redactText(cleanString(v, opts.maxStringChars));
    if (typeof v === 'bigint') return v.toString();
    if (typeof v !== 'object') return null; // undefined, functions, symbols
    if (ancestors.has(v)) return '[cycle]';
    if (depth >= opts.maxDepth) return '[depth limit]';
    ancestors.add(v);
    try {
      if (Array.isArray(v)) {
        const items = v.slice(0, opts.maxItems).map((x) => walk(x, depth + 1));
        if (v.length > opts.maxItems) items.push(`[${v.length - opts.maxItems} more items]`);
        return items;
      }
      const out: Record<string, unknown> = {};
      let n = 0;
      for (const [rawKey, x] of Object.entries(v)) {
        if (n++ >= opts.maxItems) {
          out['[more keys]'] = Object.keys(v).length - opts.maxItems;
          break;
        }
        const key = cleanString(rawKey, 256);
        out[key] = isSensitiveKey(key) && x !== null && x !== '' ? REDACTED : walk(x, depth + 1);
      }
      return out;
    } finally {
      ancestors.delete(v);
    }
  };
  return walk(value, 0);
}
