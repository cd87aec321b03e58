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
const SENSITIVE_KEY_PART =
  /(password|passwd|passphrase|passcode|secret|token|apikey|accesskey|privatekey|authorization|authheader|cookie|credential|sessionid|sessid|signature|creditcard|cardnumber|cvv|(?:account|encryption|signing|master|ssh|client|tls|storage)key)/;
const SENSITIVE_KEY_EXACT = new Set(['pwd', 'pass', 'pw', 'auth', 'pin', 'ssn', 'otp', 'dsn', 'jwt', 'bearer', 'sig']);
/** Words that name a password wherever they stand in a key: db_pass, userPwd, ldap-bind-pw. */
const PASSWORD_WORDS = new Set(['pass', 'pwd', 'pw']);

export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_.\s]/g, '');
  if (SENSITIVE_KEY_EXACT.has(k) || SENSITIVE_KEY_PART.test(k)) return true;
  return key.split(/[-_.\s]+|(?<=[a-z0-9])(?=[A-Z])/).some((w) => PASSWORD_WORDS.has(w.toLowerCase()));
}

/** "PRIVATE KEY" in any letter case (as the agent's pattern, which has no scoped case flag either). */
const PRIVATE_KEY = '[Pp][Rr][Ii][Vv][Aa][Tt][Ee] [Kk][Ee][Yy]';
// Secret shapes found inside any string. Each match is replaced by the marker.
const VALUE_PATTERN_LIST: RegExp[] = [
  new RegExp(`-----BEGIN [A-Za-z0-9 ]{0,40}${PRIVATE_KEY}[A-Za-z0-9 ]{0,40}-----[\\s\\S]*?(?:-----END [A-Za-z0-9 ]{0,40}${PRIVATE_KEY}[A-Za-z0-9 ]{0,40}-----|$)`, 'g'), // PEM and PGP keys
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/g, // JWT / JWS
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key id
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}/g, // GitHub
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack
  /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/g, // Stripe
  /\bAIza[0-9A-Za-z_-]{35}\b/g, // Google API key
  /\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}/g, // OpenAI / Anthropic style
  /\bglpat-[A-Za-z0-9_-]{20,}/g, // GitLab
  /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g, // SendGrid
  /\bnpm_[A-Za-z0-9]{36}\b/g, // npm
  /\bhf_[A-Za-z0-9]{30,}\b/g, // Hugging Face
  /\bwhsec_[A-Za-z0-9+/=]{20,}/g, // webhook signing secrets (Stripe, Svix)
  /hooks\.slack\.com\/(?:services|workflows)\/[A-Za-z0-9/_-]+/g, // Slack webhook URLs
];
// One pass over the text for all of them (this runs on every argument of every event).
const VALUE_PATTERNS = new RegExp(VALUE_PATTERN_LIST.map((re) => `(?:${re.source})`).join('|'), 'g');
// Cheap test for "could hold a secret at all": most arguments are numbers, plain words and
// reprs of ordinary dicts. Every pattern below needs one of these: a secret's prefix, a URL's
// "://", or a part of a sensitive key's name (KEY_NAME) — so a text without any is left as is.
const MAYBE_SECRET = /pass|pwd|pw|secret|token|key|auth|cookie|credential|sess|signature|sig|card|cvv|pin|ssn|otp|dsn|jwt|:\/\/|eyJ|AKIA|ASIA|gh[pousr]_|github_pat_|xox|_live_|_test_|AIza|sk-|glpat-|SG\.|-----BEGIN|Bearer|Basic|npm_|hf_|whsec_/i;
// "Bearer abc…", "Basic dXNl…": keep the scheme, hide the credential.
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+([A-Za-z0-9._~+/=-]{8,})/gi;
// scheme://user:password@host → scheme://user:[redacted]@host, the password running to the last "@" (it may hold "@" or "/").
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]{0,30}:\/\/[^/\s:@'"]*):([^\s'"]{1,1024})@(?=[^\s@/'"]+)/gi;
// scheme://<token>@host: a long userinfo without a password is the token (a git remote's).
const URL_TOKEN = /\b([a-z][a-z0-9+.-]{0,30}:\/\/)[A-Za-z0-9_-]{16,1024}@/gi;
// --password secret, --pass=secret on a command line.
const CLI_PASSWORD = /(--?(?:password|passwd|pass|pwd)[ =])[^\s'"]+/gi;
// key = value / 'key': 'value' inside text (Python reprs, query strings, logs). Only keys that
// look sensitive are matched, so an ordinary pair never swallows a sensitive one after it.
// A name is a whole run of name characters that holds a sensitive word, is a short one, or ends
// in one: looked ahead for, then the run taken whole, so a failed match costs one pass over the
// run (a lazy prefix and a greedy suffix around the word cost the square of its length).
// Generous on purpose: every name matched is put to isSensitiveKey, which decides.
const KEY_NAME = String.raw`(?=[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|passcode|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|authorization|auth[-_]?header|cookie|credential|session[-_]?id|sessid|signature|credit[-_]?card|card[-_]?number|cvv`
  + String.raw`|(?:account|encryption|signing|master|ssh|client|tls|storage)[-_]?key)`
  + String.raw`|(?:pwd|pass|pw|auth|pin|ssn|otp|dsn|jwt|sig)(?![A-Za-z0-9_.-])`
  + String.raw`|[A-Za-z0-9_.-]*?(?:pass|pwd|pw)(?![A-Za-z0-9_.-]))`
  + String.raw`[A-Za-z0-9_.-]+`;
const KEY_VALUE = new RegExp(
  // A quoted value runs to its closing quote, or to the end of its line when it has none.
  String.raw`(["']?)(?<![A-Za-z0-9_.-])(${KEY_NAME})\1(\s*[:=]\s*)(?:(["'])((?:\\.|(?!\4)[^\r\n])*)(?:\4|(?=[\r\n])|$)|([^\s,;&'"}\])]+))`,
  'gi',
);

/** Hides secret-shaped substrings of free text. */
export function redactText(s: string): string {
  if (s.length < 8 || !MAYBE_SECRET.test(s)) return s;
  let out = s.replace(VALUE_PATTERNS, REDACTED);
  // "Basic" before a lowercase word is prose ("Basic authentication required"), not a header.
  out = out.replace(AUTH_SCHEME, (m, scheme: string, credential: string) => (scheme.toLowerCase() === 'basic' && /^[a-z]+$/.test(credential) ? m : `${scheme} ${REDACTED}`));
  out = out.replace(URL_CREDENTIALS, (_m, prefix: string) => `${prefix}:${REDACTED}@`);
  out = out.replace(URL_TOKEN, (_m, scheme: string) => `${scheme}${REDACTED}@`);
  out = out.replace(CLI_PASSWORD, (_m, flag: string) => `${flag}${REDACTED}`);
  if (/[:=]/.test(out)) {
    out = out.replace(KEY_VALUE, (m, q: string, key: string, sep: string, vq: string | undefined, _quoted: string | undefined, bare: string | undefined) => {
      if (!isSensitiveKey(key) || (!vq && bare?.startsWith(REDACTED.slice(0, -1)))) return m; // hidden already
      return vq ? `${q}${key}${q}${sep}${vq}${REDACTED}${vq}` : `${q}${key}${q}${sep}${REDACTED}`;
    });
  }
  return out;
}

// Postgres text and jsonb cannot hold NUL or lone UTF-16 surrogates.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HAS_UNSTORABLE = new RegExp(UNSTORABLE.source); // no `g`: test() without a lastIndex to carry

/** Whether `s` has a NUL or half a surrogate pair: text PostgreSQL cannot store in text or jsonb. */
export const hasUnstorableText = (s: string): boolean => HAS_UNSTORABLE.test(s);

/** Makes a string storable and bounded, without redaction. */
export function cleanString(s: string, maxChars: number): string {
  let out = s.replace(UNSTORABLE, '\ufffd');
  if (out.length > maxChars) out = `${out.slice(0, maxChars)}…[${out.length - maxChars} more chars]`;
  return out;
}

/** How far past a cut a string is still read for secrets: one straddling the cut is hidden, not half-shown. */
const SCAN_PAST_CUT = 512;

/** redactText, then the cut of cleanString, reading only a little past the limit. */
function redactCut(s: string, maxChars: number): string {
  if (s.length <= maxChars) return redactText(cleanString(s, maxChars));
  const head = redactText(cleanString(s.slice(0, maxChars + SCAN_PAST_CUT), maxChars + SCAN_PAST_CUT)).slice(0, maxChars);
  return `${cleanString(head, maxChars)}…[${s.length - maxChars} more chars]`; // cleaned again: the slice can split a surrogate pair
}

/** Deep copy of `value` that is JSON-safe, bounded and scrubbed of secrets. Never throws. */
export function scrub(value: unknown, opts: ScrubOptions = DEFAULT_SCRUB): unknown {
  // Most values scrubbed are a single string (Celery's args and results are reprs): no walk for those.
  if (typeof value === 'string') return redactCut(value, opts.maxStringChars);
  const ancestors = new Set<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v === 'boolean') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    if (typeof v === 'string') return redactCut(v, opts.maxStringChars);
    if (typeof v === 'bigint') return v.toString();
    if (typeof v !== 'object') return null; // undefined, functions, symbols
    if (ancestors.has(v)) return '[cycle]';
    if (depth >= opts.maxDepth) return '[depth limit]';
    ancestors.add(v);
    try {
      if (Array.isArray(v)) {
        // A [name, value] pair whose name is a sensitive key: headers as a list of pairs, form fields.
        if (v.length === 2 && typeof v[0] === 'string' && v[0].length <= 256 && isSensitiveKey(v[0]) && v[1] !== null && v[1] !== '') {
          return [walk(v[0], depth + 1), REDACTED];
        }
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
        out[redactText(key)] = isSensitiveKey(key) && x !== null && x !== '' ? REDACTED : walk(x, depth + 1); // a key can be a secret too (a URL)
      }
      return out;
    } finally {
      ancestors.delete(v);
    }
  };
  return walk(value, 0);
}
