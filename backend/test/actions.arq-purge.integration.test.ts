// arq's filtered purge against real arq jobs and workers: the preview counts the matching jobs,
// the purge removes exactly them (ids and job data) behind a single-use, expiring confirmation
// token, the others still run, and a worker picking jobs up meanwhile never starts a half-deleted one.
import { randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { encode } from '@msgpack/msgpack';
import { Redis } from 'ioredis';
import { jest } from '@jest/globals';
import request from 'supertest';
import { issuePurgeToken, type PurgeClaims } from '../src/actions/purgeToken.js';
import { ArqDriver } from '../src/engines/arq/driver.js';
import type { Db } from '../src/db/db.js';
import { testApp } from './helpers/api.js';
import { ARQ_REDIS_URL, arqctl, startArqWorker } from './helpers/arq.js';
import { authHeaders } from './helpers/auth.js';
import { covers } from './helpers/coverage.js';
import { uniqueQueue, type PyProcess } from './helpers/pyapp.js';
import { openTestDb } from './helpers/storage.js';
import { eventually, sleep } from './helpers/wait.js';

jest.setTimeout(180_000);

type Status = { status: string; success: boolean | null; result: string | null };

describe('arq filtered purge', () => {
  const driver = new ArqDriver(ARQ_REDIS_URL);
  const workers: PyProcess[] = [];
  let db: Db;
  let api: ReturnType<typeof testApp>;

  beforeAll(async () => {
    db = await openTestDb('postgres', 'arq_purge');
    api = testApp(db, { drivers: new Map([['arq', driver]]) });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await driver.close();
    await db?.close();
  });

  const status = (queue: string, id: string) => arqctl<Status>(queue, 'status', id);
  const enqueue = (queue: string, fn: string, args: unknown[]) => arqctl<string>(queue, 'enqueue', fn, JSON.stringify(args));
  const post = (path: string, body: unknown) => request(api.app).post(path).set(authHeaders('admin')).send(body as object);

  test('the preview counts the matching jobs; the purge removes exactly them, once per token; the others run', async () => {
    covers('arq', 'queue.purge_filtered');
    const queue = uniqueQueue('arq_purge_f');
    const matching: { id: string; key: string }[] = [];
    const kept: string[] = [];
    for (let i = 0; i < 3; i++) {
      const key = randomUUID();
      matching.push({ id: await enqueue(queue, 'count', [key]), key });
      kept.push(await enqueue(queue, 'add', [i, 1]));
    }
    // The project has seen the queue (queue actions reach only those: src/api/projectScope.test.ts).
    await db.query(`INSERT INTO queues (project_id, engine, name, first_seen_at, last_seen_at) SELECT id, 'arq', $1, now(), now() FROM projects WHERE slug = 'default'`, [queue]);
    const path = `/api/queues/arq/${queue}`;
    const preview = await post(`${path}/purge-preview`, { filter: { name: 'count' } });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ depth: 3, complete: true, scanned: 6 });
    const token = preview.body.token as string;

    expect((await post(`${path}/purge`, { token, filter: { name: 'add' } })).body.error.code).toBe('TOKEN_MISMATCH');
    expect((await post(`${path}/purge`, { token })).body.error.code).toBe('TOKEN_MISMATCH');
    // The same claims, issued ten minutes ago: past their five-minute life.
    const claims = JSON.parse(api.ctx.sealer.open(Buffer.from(token, 'base64url'), 'purge-token:v1').toString()) as PurgeClaims;
    const { jti: _jti, exp: _exp, ...rest } = claims;
    const stale = issuePurgeToken(api.ctx.sealer, rest, 300, Date.now() - 600_000).token;
    const expired = await post(`${path}/purge`, { token: stale, filter: { name: 'count' } });
    expect([expired.status, expired.body.error.code]).toEqual([409, 'TOKEN_EXPIRED']);

    const purge = await post(`${path}/purge`, { token, filter: { name: 'count' } });
    expect(purge.status).toBe(202);
    expect(purge.body.command).toMatchObject({ kind: 'queue.purge_filtered', engine: 'arq', target: queue, state: 'succeeded' });
    expect(purge.body.command.outcome).toMatchObject({ purged: 3, filter: { name: 'count' } });
    const reused = await post(`${path}/purge`, { token, filter: { name: 'count' } });
    expect([reused.status, reused.body.error.code]).toEqual([409, 'TOKEN_USED']);
    const audited = await db.query<{ action: string; outcome: string }>(`SELECT action, outcome FROM audit_log WHERE target = $1 ORDER BY seq`, [`arq/${queue}`]);
    expect(audited.rows.map((r) => r.action)).toEqual(expect.arrayContaining(['queue.purge_preview', 'queue.purge_filtered']));

    expect(await driver.queueDepth(queue)).toBe(3);
    for (const { id } of matching) expect((await status(queue, id)).status).toBe('not_found');
    workers.push(startArqWorker(queue));
    for (const id of kept) await eventually(async () => expect(await status(queue, id)).toMatchObject({ status: 'complete', success: true }), 60_000, 300);
    await sleep(500);
    for (const { key } of matching) expect(await arqctl<number>(queue, 'runs', key)).toBe(0);
  });

  test('deferred jobs match too; a job a worker holds is left to run', async () => {
    const queue = uniqueQueue('arq_purge_held');
    workers.push(startArqWorker(queue));
    const running = await enqueue(queue, 'sleep', [3]);
    await eventually(async () => expect((await status(queue, running)).status).toBe('in_progress'), 60_000, 200);
    const deferred = await arqctl<string>(queue, 'enqueue', 'sleep', JSON.stringify([0]), '600');
    const other = await arqctl<string>(queue, 'enqueue', 'add', JSON.stringify([1, 2]), '600');
    expect(await driver.countMatching(queue, { name: 'sleep' })).toEqual({ matched: 2, scanned: 3, complete: true, unreadable: 0 });
    expect((await driver.purgeMatching(queue, { name: 'sleep' })).purged).toBe(1);
    expect((await status(queue, deferred)).status).toBe('not_found');
    expect((await status(queue, other)).status).toBe('deferred');
    await eventually(async () => expect(await status(queue, running)).toMatchObject({ status: 'complete', success: true }), 60_000, 300);
  });

  test("a job written with another job_serializer (msgpack) is read; one z4j cannot read is counted and kept; one whose data expired is neither", async () => {
    const queue = uniqueQueue('arq_purge_serializers');
    const redis = new Redis(ARQ_REDIS_URL);
    try {
      const job = (f: string) => ({ t: 1, f, a: [0], k: {}, et: Date.now() });
      const later = String(Date.now() + 600_000); // deferred: no worker takes them meanwhile
      await redis.zadd(queue, later, 'msgpack', later, 'own', later, 'expired');
      await redis.set('arq:job:msgpack', Buffer.from(encode(job('sleep'))));
      await redis.set('arq:job:own', deflateSync(JSON.stringify(job('sleep')))); // a serializer of the user's own
      expect(await driver.countMatching(queue, { name: 'sleep' })).toEqual({ matched: 1, scanned: 3, complete: true, unreadable: 1 });
      expect((await driver.purgeMatching(queue, { name: 'sleep' })).purged).toBe(1);
      expect(await redis.zrange(queue, '0', '-1')).toEqual(['expired', 'own']);
    } finally {
      await redis.del(queue, 'arq:job:msgpack', 'arq:job:own');
      redis.disconnect();
    }
  });

  test('a purge while a worker takes jobs never leaves one half-deleted', async () => {
    const queue = uniqueQueue('arq_purge_race');
    workers.push(startArqWorker(queue));
    const ids: { id: string; key: string }[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) {
        const key = randomUUID();
        ids.push({ id: await enqueue(queue, 'count', [key]), key });
      }
      await driver.purgeMatching(queue, { name: 'count' });
    }
    await eventually(async () => expect(await driver.queueDepth(queue)).toBe(0), 60_000, 300);
    await sleep(500);
    for (const { id, key } of ids) {
      const s = await status(queue, id);
      // Either it ran (complete, once) or it was purged before a worker took it: never "job expired".
      if (s.status === 'not_found') expect(await arqctl<number>(queue, 'runs', key)).toBe(0);
      else expect([s.status, s.success, await arqctl<number>(queue, 'runs', key)]).toEqual(['complete', true, 1]);
    }
  });
});
