#!/usr/bin/env node
// Load generator: publishes signed agent batches (docs/agent-protocol.md) to a Redis stream the
// way z4j agents do — batches of up to 500 events, each task an enqueued / started / succeeded
// triplet interleaved with 64 tasks in flight — at a chosen rate for a chosen time.
//
//   node tests/bench/agent-load.mjs --url redis://127.0.0.1:6379/15 --agent id --secret s --rate 30000 --seconds 60
//
// Prints one JSON line at the end: {"published": <events>, "seconds": <elapsed>, "batches": <n>}.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { TaskMix } from './task-mix.mjs';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string', default: 'redis://127.0.0.1:6379/15' },
    agent: { type: 'string' },
    secret: { type: 'string' },
    project: { type: 'string', default: 'default' },
    rate: { type: 'string', default: '30000' },
    seconds: { type: 'string', default: '60' },
    batch: { type: 'string', default: '500' },
  },
});
const rate = Number(opt.rate);
const batchSize = Number(opt.batch);
const NAMES = ['app.tasks.add', 'app.tasks.send_email', 'reports.build_daily', 'billing.charge_card', 'media.resize_image'];
const KINDS = ['enqueued', 'started', 'succeeded'];

const mix = new TaskMix((seq) => ({ id: randomUUID(), name: NAMES[seq % NAMES.length], n: seq }));
function nextEvent() {
  const { task: t, step } = mix.next();
  const kind = KINDS[step];
  const fields = { name: t.name, retries: 0 };
  if (kind === 'enqueued') Object.assign(fields, { queue: 'default', args: [t.n, t.n % 97], kwargs: { priority: 'normal' } });
  if (kind === 'succeeded') Object.assign(fields, { result: { status: 'ok', items: 3 }, runtime: 0.0123 });
  const ev = { v: 1, id: randomUUID(), type: 'task', engine: 'rq', project: opt.project, kind, taskId: t.id, occurredAt: Date.now(), worker: `bench-${t.n % 8}`, fields };
  if (kind === 'enqueued') ev.payload = { name: t.name, args: [t.n, t.n % 97], kwargs: { priority: 'normal' }, queue: 'default' };
  return ev;
}

const redis = new Redis(opt.url, { maxRetriesPerRequest: null });
const stream = `z4j:events:${opt.project}`;
const tickMs = 10;
const start = Date.now();
let published = 0;
let batches = 0;
while (Date.now() - start < Number(opt.seconds) * 1000) {
  let due = Math.floor(((Date.now() - start) / 1000) * rate) - published;
  const pipe = redis.pipeline();
  while (due > 0) {
    const events = Array.from({ length: Math.min(due, batchSize) }, nextEvent);
    const body = JSON.stringify({ v: 1, agent: opt.agent, project: opt.project, sentAt: Date.now(), nonce: randomBytes(16).toString('hex'), seq: ++batches, dropped: 0, events });
    pipe.xadd(stream, 'MAXLEN', '~', '2000000', '*', 'agent', opt.agent, 'sig', createHmac('sha256', opt.secret).update(body).digest('hex'), 'batch', body);
    published += events.length;
    due -= events.length;
  }
  await pipe.exec();
  await new Promise((r) => setTimeout(r, tickMs - ((Date.now() - start) % tickMs)));
}
await redis.quit();
process.stdout.write(`${JSON.stringify({ published, seconds: (Date.now() - start) / 1000, batches })}\n`);
