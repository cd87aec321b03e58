// Bad input on every route gets a clear 4xx, never a 500 and never a stack trace: each route of
// the table, called by a caller who may use it (an Owner who is a Grafana server admin), with
// path parameters, query strings and bodies no client should send. A 2xx is fine (a route that
// ignores what it does not read); what is checked is that nothing crashes or leaks.
import request from 'supertest';
import type { Db } from '../db/db.js';
import { ROUTES, type Route } from './routes.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';

/** Path parameter values, as they appear in the URL (percent-encoded where they must be). */
const PARAMS = [
  'x'.repeat(5000),
  '%00',
  '%E0%A4%A', // not valid percent-encoding
  '..%2F..%2Fetc',
  '-1',
  '99999999999999999999999',
  '%F0%9F%92%A9',
  '%20',
];

/** Query strings: wrong types, repeated keys (arrays), nested keys (objects), huge values. */
const QUERIES = [
  'limit=abc&cursor=%00&from=notadate&to=2026-13-45',
  'limit=-1&limit=5&state=failed&state=x&engine[]=celery',
  'cursor[a]=1&q[$gt]=&name[0][1]=x&actor=%00&outcome=maybe',
  `limit=1e308&cursor=${'z'.repeat(10000)}&from=9999999999999999999`,
];

/** Bodies: not objects, wrong types for the fields routes read, deep, huge. */
const deep = (n: number): unknown => (n === 0 ? 'end' : { a: deep(n - 1) });
const WRONG_TYPES = {
  name: {}, engine: 1, taskName: [], queue: null, cron: 5, timezone: {}, args: 'x', kwargs: [1], enabled: 'yes', count: 1e308,
  role: 'emperor', email: 7, userId: -1, team: 'x', rules: 'all', filters: 'x', action: {}, key: [], reason: { a: 1 }, expiresInDays: 'never',
  hostname: [], processes: 'many', limit: -5, token: 1, name_: '\u0000', to: {}, owner: [], slug: '../..', defaultRole: 'god',
};
const BODIES: unknown[] = [[], 'just a string', null, 0, {}, WRONG_TYPES, deep(200), { name: 'x'.repeat(200_000) }];

const PLAUSIBLE: Record<string, string> = {
  engine: 'celery', taskId: 't-1', action: 'retry', hostname: 'w1@host', queue: 'celery', id: '1', userId: '5', agentId: 'agt_1', project: 'default',
};

const concrete = (r: Route, param: string) => r.path.replace(/:(\w+)/g, () => param);
const hasParams = (r: Route) => /:\w/.test(r.path);

describe('hostile input on every route', () => {
  let db: Db;
  let app: ReturnType<typeof testApp>['app'];

  beforeAll(async () => {
    db = await openTestDb('pglite', 'hostile');
    app = testApp(db).app;
  });
  afterAll(async () => {
    await db?.close();
  });

  /** The problems of one answer: a 5xx, an error without a code, a stack trace or a source path. */
  function problems(what: string, res: request.Response): string[] {
    const out: string[] = [];
    if (res.status >= 500) out.push(`${what}: ${res.status} ${res.text.slice(0, 200)}`);
    if (res.status >= 400 && typeof res.body?.error?.code !== 'string') out.push(`${what}: ${res.status} without an error code: ${res.text.slice(0, 200)}`);
    if (/\n\s+at [\w.<]|node_modules|\.ts:\d+|\.js:\d+/.test(res.text)) out.push(`${what}: a stack trace or source path in the answer`);
    return out;
  }

  const routes = ROUTES.filter((r) => r.role !== 'agent'); // the agent ingest route has its own tests of bad batches (agentBatch, ingest.api)
  const send = (r: Route, path: string) => request(app)[r.method](path).set(authHeaders('owner')).set('idempotency-key', `hostile-${Math.random()}`);

  it.each(routes.filter(hasParams).map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))('%s: hostile path parameters', async (_n, r) => {
    const found: string[] = [];
    for (const p of PARAMS) {
      const res = await send(r, concrete(r, p));
      found.push(...problems(`${r.method} ${concrete(r, p).slice(0, 80)}`, res));
    }
    expect(found).toEqual([]);
  });

  it.each(routes.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))('%s: hostile query strings and bodies', async (_n, r) => {
    const found: string[] = [];
    // Path parameters of the right shape, so the route reads its query and body (the default
    // project is never deleted: that route reads neither).
    if (r.method === 'delete' && r.path === '/api/projects/:project') return;
    const path = r.path.replace(/:(\w+)/g, (_m, name: string) => PLAUSIBLE[name] ?? 'x');
    for (const q of QUERIES) found.push(...problems(`${r.method} ${path}?${q.slice(0, 60)}`, await send(r, `${path}?${q}`)));
    if (r.method !== 'get') {
      for (const body of BODIES) {
        const res = await send(r, path).set('content-type', 'application/json').send(JSON.stringify(body));
        found.push(...problems(`${r.method} ${path} with ${JSON.stringify(body).slice(0, 60)}`, res));
      }
      // Not JSON at all, and JSON cut short.
      for (const raw of ['{"name": ', 'name=x&cron=y', '\u0000']) {
        const res = await send(r, path).set('content-type', 'application/json').send(raw);
        found.push(...problems(`${r.method} ${path} with raw ${JSON.stringify(raw)}`, res));
      }
    }
    expect(found).toEqual([]);
  });
});
