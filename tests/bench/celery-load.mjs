#!/usr/bin/env node
// Load generator: publishes Celery event messages to Redis pub/sub the way real workers do
// (kombu JSON envelopes, base64 bodies, task events batched as `task.multi` lists, periodic
// worker heartbeats) at a chosen rate for a chosen time. Runs in its own process.
//
//   node tests/bench/celery-load.mjs --url redis://127.0.0.1:6379/0 --rate 30000 --seconds 60
//
// Prints one JSON line at the end: {"published": <task events>, "seconds": <elapsed>, "messages": <n>,
// "heartbeats": <worker heartbeats>}.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import net from 'node:net';
import { TaskMix } from './task-mix.mjs';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string', default: 'redis://127.0.0.1:6379/0' },
    rate: { type: 'string', default: '30000' },
    seconds: { type: 'string', default: '60' },
    workers: { type: 'string', default: '8' },
    exchange: { type: 'string', default: 'celeryev' },
  },
});
const rate = Number(opt.rate);
const seconds = Number(opt.seconds);
const db = Number(new URL(opt.url).pathname.slice(1) || 0);
const channel = (routingKey) => `/${db}.${opt.exchange}/${routingKey}`;
const workers = Array.from({ length: Number(opt.workers) }, (_, i) => ({ hostname: `celery@bench-${i}`, pid: 1000 + i, clock: 0, processed: 0 }));
const NAMES = ['app.tasks.add', 'app.tasks.send_email', 'reports.build_daily', 'billing.charge_card', 'media.resize_image'];

// Each task yields three events (received, started, succeeded) from one worker, in order.
const mix = new TaskMix((seq) => ({ w: workers[seq % workers.length], uuid: randomUUID(), name: NAMES[seq % NAMES.length], args: `(${seq}, ${seq % 97})` }));
// Plain literals, no spreads: `{ ...common, more }` costs microseconds on Node 20, which at
// 30k events/s would be the generator's main cost (the box it shares with the service).
function nextEvent() {
  const { task: t, step } = mix.next();
  const w = t.w;
  const timestamp = Date.now() / 1000;
  const clock = ++w.clock;
  if (step === 0) {
    return { hostname: w.hostname, utcoffset: 0, pid: w.pid, clock, timestamp, uuid: t.uuid, type: 'task-received', name: t.name, args: t.args, kwargs: "{'priority': 'normal'}", root_id: t.uuid, parent_id: null, retries: 0, eta: null, expires: null };
  }
  if (step === 1) return { hostname: w.hostname, utcoffset: 0, pid: w.pid, clock, timestamp, uuid: t.uuid, type: 'task-started' };
  return { hostname: w.hostname, utcoffset: 0, pid: w.pid, clock, timestamp, uuid: t.uuid, type: 'task-succeeded', result: "{'status': 'ok', 'items': 3}", runtime: 0.0123 };
}

// The kombu envelope as JSON.stringify would write it (same keys, same order), by template: the
// generator shares the box with what it measures, so its own cost is kept low.
function kombuMessage(body, routingKey, hostname) {
  const b64 = Buffer.from(JSON.stringify(body)).toString('base64');
  return `{"body":"${b64}","content-encoding":"utf-8","content-type":"application/json","headers":{"hostname":${JSON.stringify(hostname)}},`
    + `"properties":{"delivery_mode":1,"delivery_info":{"exchange":${JSON.stringify(opt.exchange)},"routing_key":"${routingKey}"},"priority":0,"body_encoding":"base64","delivery_tag":"${randomUUID()}"}}`;
}

// PUBLISH commands written as RESP straight to a socket, a tick's worth in one write: what a
// client library adds per command (a command object, its promise, argument encoding) was a
// sizeable share of the generator's CPU. Redis's replies (subscriber counts) are read and dropped.
const CRLF = '\r\n';
const bulk = (text) => `$${Buffer.byteLength(text)}${CRLF}${text}${CRLF}`;
const publishCommand = (ch, message) => `*3${CRLF}$7${CRLF}PUBLISH${CRLF}${bulk(ch)}${bulk(message)}`;
const redisUrl = new URL(opt.url);
const socket = net.connect(Number(redisUrl.port || 6379), redisUrl.hostname);
socket.setNoDelay(true);
socket.on('data', () => undefined);
await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
socket.on('error', (err) => {
  process.stderr.write(`celery-load: Redis connection failed: ${err.message}\n`);
  process.exit(1);
});
const auth = redisUrl.password ? `*3${CRLF}$4${CRLF}AUTH${CRLF}${bulk(decodeURIComponent(redisUrl.username || 'default'))}${bulk(decodeURIComponent(redisUrl.password))}` : '';
socket.write(`${auth}*2${CRLF}$6${CRLF}SELECT${CRLF}${bulk(String(db))}`);
const send = (text) => (socket.write(text) ? undefined : new Promise((r) => socket.once('drain', r)));

const tickMs = 10;
const start = Date.now();
let published = 0;
let messages = 0;
let lastHeartbeat = 0;
let heartbeats = 0;
while (Date.now() - start < seconds * 1000) {
  const due = Math.floor(((Date.now() - start) / 1000) * rate) - published;
  let out = '';
  let queued = 0;
  // Workers flush their buffered task events as task.multi lists of a few events each.
  while (queued < due) {
    const size = Math.min(due - queued, 1 + Math.floor(Math.random() * 16));
    const batch = Array.from({ length: size }, nextEvent);
    out += publishCommand(channel('task.multi'), kombuMessage(batch, 'task.multi', batch[0].hostname));
    queued += size;
    messages++;
  }
  if (Date.now() - lastHeartbeat >= 2000) {
    lastHeartbeat = Date.now();
    for (const w of workers) {
      const hb = { type: 'worker-heartbeat', hostname: w.hostname, utcoffset: 0, pid: w.pid, clock: ++w.clock, timestamp: Date.now() / 1000, freq: 2.0, active: 4, processed: w.processed, loadavg: [0.5, 0.4, 0.3], sw_ident: 'py-celery', sw_ver: '5.6.0', sw_sys: 'Linux' };
      out += publishCommand(channel('worker.heartbeat'), kombuMessage(hb, 'worker.heartbeat', w.hostname));
      heartbeats++;
    }
  }
  if (out) await send(out);
  published += queued;
  const sleep = tickMs - ((Date.now() - start) % tickMs);
  await new Promise((r) => setTimeout(r, sleep));
}
// Everything written has reached Redis once a command sent after it is answered.
await new Promise((resolve) => {
  socket.removeAllListeners('data');
  let seen = '';
  socket.on('data', (d) => {
    seen = (seen + d.toString('latin1')).slice(-64);
    if (seen.includes('z4j-load-done')) resolve();
  });
  socket.write(`*2${CRLF}$4${CRLF}ECHO${CRLF}${bulk('z4j-load-done')}`);
});
socket.end();
process.stdout.write(`${JSON.stringify({ published, seconds: (Date.now() - start) / 1000, messages, heartbeats })}\n`);
