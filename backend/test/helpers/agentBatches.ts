// Signed agent batches as the Python agent builds them (docs/agent-protocol.md), for tests
// and benchmarks that stand in for an agent.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { signBatch } from '../../src/ingest/agentBatch.js';

export interface TestAgent {
  id: string;
  secret: string;
  project: string;
}

export const testAgent = (project = 'default'): TestAgent => ({ id: `agent-${randomBytes(4).toString('hex')}`, secret: randomBytes(24).toString('hex'), project });

/** `Z4J_AGENT_KEYS` entry for the agent. */
export const agentKeyEntry = (a: TestAgent) => `${a.id}@${a.project}:${a.secret}`;

export function batchOf(a: TestAgent, events: Record<string, unknown>[], over: Record<string, unknown> = {}): { body: Buffer; sig: string } {
  const body = Buffer.from(JSON.stringify({ v: 1, agent: a.id, project: a.project, sentAt: Date.now(), nonce: randomBytes(16).toString('hex'), seq: 1, dropped: 0, events, ...over }));
  return { body, sig: signBatch(body, a.secret) };
}

/** A task's lifecycle as an agent reports it: enqueued (with the retry payload), started, then succeeded or failed. */
export function lifecycle(a: TestAgent, engine: string, taskId: string, outcome: 'succeeded' | 'failed', payload: Record<string, unknown>, at = Date.now()): Record<string, unknown>[] {
  const ev = (kind: string, n: number, fields: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ v: 1, id: randomUUID(), type: 'task', engine, project: a.project, kind, taskId, occurredAt: at + n, worker: 'w1', fields: { name: payload.name, ...fields }, ...extra });
  return [
    ev('enqueued', 0, { queue: payload.queue, args: '[redacted by agent]', kwargs: { password: '[redacted]' }, retries: 0 }, { payload }),
    ev('started', 1, { retries: 0 }),
    ev(outcome, 2, outcome === 'succeeded' ? { result: 42, runtime: 0.001, retries: 0 } : { exception: 'ValueError: boom', traceback: 'Traceback…', retries: 0 }),
  ];
}

export async function xaddBatch(redis: Redis, a: TestAgent, b: { body: Buffer; sig: string }): Promise<string> {
  return (await redis.xadd(`z4j:events:${a.project}`, 'MAXLEN', '~', '100000', '*', 'agent', a.id, 'sig', b.sig, 'batch', b.body))!;
}
