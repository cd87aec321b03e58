// Agent credentials end to end: an Admin mints an agent, its batches are accepted; rotated,
// both secrets work during the overlap; revoked, its batches are refused within seconds and counted.
import request from 'supertest';
import { testApp } from '../../test/helpers/api.js';
import { batchOf, lifecycle } from '../../test/helpers/agentBatches.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { AGENT_KEY_CACHE_MS } from '../auth/agentCredentials.js';

test('mint → accepted, rotate → both secrets, revoke → refused within the cache time, counted', async () => {
  const db = await openTestDb('postgres', 'agent_lifecycle');
  const { app, ctx, pipeline } = testApp(db);
  pipeline.start();
  try {
    const minted = await request(app).post('/api/agents').set(authHeaders('admin')).send({ name: 'billing workers' });
    expect(minted.status).toBe(201);
    const agent = { id: minted.body.agentId as string, secret: minted.body.secret as string, project: minted.body.project as string };
    const send = (secret: string, n: number) => {
      const b = batchOf({ ...agent, secret }, lifecycle({ ...agent, secret }, 'rq', `task-${n}`, 'succeeded', { name: 'x', args: [], kwargs: {} }));
      return request(app).post('/api/ingest/v1/batches').set('content-type', 'application/json').set('x-z4j-agent', agent.id).set('x-z4j-signature', b.sig).send(b.body.toString('utf8'));
    };
    expect((await send(agent.secret, 1)).status).toBe(202);

    const rotated = await request(app).post(`/api/agents/${agent.id}/rotate`).set(authHeaders('admin')).send({ overlapSeconds: 600 });
    expect(rotated.status).toBe(200);
    await new Promise((r) => setTimeout(r, AGENT_KEY_CACHE_MS + 200));
    expect((await send(rotated.body.secret, 2)).status).toBe(202);
    expect((await send(agent.secret, 3)).status).toBe(202); // the old one, inside the overlap

    expect((await request(app).delete(`/api/agents/${agent.id}`).set(authHeaders('admin'))).status).toBe(200);
    await new Promise((r) => setTimeout(r, AGENT_KEY_CACHE_MS + 200));
    const refused = await send(rotated.body.secret, 4);
    expect([refused.status, refused.body.error.code]).toEqual([401, 'UNKNOWN_AGENT']);
    const metrics = await ctx.metrics.registry.getSingleMetricAsString('z4j_agent_batches_total');
    expect(metrics).toMatch(/transport="http",outcome="refused_unknown_agent"} 1/);
  } finally {
    await pipeline.stop();
    await db.close();
  }
}, 30_000);
