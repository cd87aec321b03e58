// A Celery worker killed outright (SIGKILL: the OOM killer's way) in the middle of a task: it
// sends no offline event and the task no end. Once the worker has been silent past
// Z4J_WORKER_LOST_AFTER, the task's detail says it is gone, and the retry z4j refused while the
// worker was alive is sent; another worker runs it. Real worker, broker and service.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import type { Service } from '../src/service.js';
import { authHeaders } from './helpers/auth.js';
import { REDIS_URL, isolatedCelery, sendTask, startWorker, type CeleryEnv, type Worker } from './helpers/celery.js';
import { celeryServiceWithAgent, workerOnline } from './helpers/celeryService.js';
import { eventually } from './helpers/wait.js';

jest.setTimeout(180_000);

interface Command { id: number; state: string; outcome: Record<string, unknown> | null }
interface Detail {
  task: { state: string; worker: string | null; retriedAs: string[]; workerGone: { hostname: string; offlineAt: string | null } | null };
}

/** SIGKILL for the worker and its pool's processes (found first: once orphaned they are not its children). */
function killOutright(worker: Worker): void {
  const pid = worker.process.pid!;
  let children: string[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    // none (pgrep exits 1)
  }
  worker.process.kill('SIGKILL');
  for (const child of children) {
    try {
      process.kill(Number(child), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('a Celery task lost with its worker', () => {
  let celery: CeleryEnv;
  let svc: Service;
  const workers: Worker[] = [];

  const call = async <T>(method: string, path: string): Promise<{ status: number; body: T }> => {
    const headers: Record<string, string> = { ...authHeaders('operator'), ...(method === 'POST' ? { 'idempotency-key': randomUUID() } : {}) };
    const res = await fetch(`${svc.url}${path}`, { method, headers });
    return { status: res.status, body: (await res.json()) as T };
  };
  const detail = async (id: string) => (await call<Detail>('GET', `/api/tasks/celery/${id}`)).body;
  const inState = (id: string, state: string) => eventually(async () => {
    const d = await detail(id);
    if (d.task.state !== state) throw new Error(`task ${id} is ${d.task.state}, waiting for ${state}`);
    return d;
  });

  beforeAll(async () => {
    celery = isolatedCelery(REDIS_URL);
    svc = await celeryServiceWithAgent(celery, 'lost_worker', { Z4J_WORKER_LOST_AFTER: 10 });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await svc?.stop();
  });

  test('is said lost once its worker is silent, and its retry runs on another worker', async () => {
    const first = startWorker(celery, { concurrency: 1 });
    workers.push(first);
    await workerOnline(svc, first);
    const id = await sendTask(celery, 'z4j.sleep', [6]);
    expect((await inState(id, 'started')).task.worker).toBe(first.hostname);

    killOutright(first);
    // Just killed: its last heartbeat is fresh, so z4j cannot tell it from a busy worker yet.
    const early = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/retry`);
    expect([early.body.command.state, early.body.command.outcome?.message]).toEqual([
      'failed',
      'cannot retry a task that is started (z4j retries a started task only once its worker is gone: terminate it, or wait for its end)',
    ]);
    expect((await detail(id)).task.workerGone).toBeNull();

    // Ten seconds and three heartbeats of silence (no offline event: it was killed).
    const gone = await eventually(async () => {
      const d = await detail(id);
      if (!d.task.workerGone) throw new Error('its worker is not gone yet');
      return d.task.workerGone;
    }, 40_000);
    expect(gone).toMatchObject({ hostname: first.hostname, offlineAt: null });
    expect((await detail(id)).task.state).toBe('started');

    const retry = await call<{ command: Command }>('POST', `/api/tasks/celery/${id}/actions/retry`);
    expect([retry.status, retry.body.command.state, retry.body.command.outcome?.lostWith]).toEqual([202, 'succeeded', first.hostname]);
    const newTaskId = retry.body.command.outcome!.newTaskId as string;

    const second = startWorker(celery, { concurrency: 1 });
    workers.push(second);
    expect((await inState(newTaskId, 'succeeded')).task.worker).toBe(second.hostname);
    // The original stays as its worker left it, linked to its retry.
    const original = await detail(id);
    expect([original.task.state, original.task.retriedAs, original.task.workerGone?.hostname]).toEqual(['started', [newTaskId], first.hostname]);
    const audited = await svc.db.query<{ detail: { lostWith?: string } }>(`SELECT detail FROM audit_log WHERE action = 'task.retry' AND target = $1 ORDER BY seq`, [`celery/${id}`]);
    expect(audited.rows.map((r) => r.detail.lostWith ?? null)).toEqual([null, first.hostname]);
  });
});
