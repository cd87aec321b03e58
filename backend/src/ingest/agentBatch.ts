// Verifying an agent's signed batch (docs/agent-protocol.md): the HMAC over the exact bytes
// received, with any of the agent's live secrets; the agent's project on every event; sizes.
// Never throws on bad input: a refusal is a reason, counted by the caller.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AgentCredentials, AgentKeyStore } from './agentKeys.js';

export const MAX_BATCH_BYTES = 1024 * 1024;
export const MAX_BATCH_EVENTS = 1000;
/** HTTP batches older (or newer) than this are refused: there is no backlog to excuse them. */
export const HTTP_STALE_MS = 5 * 60 * 1000;

export type RefusalReason = 'unknown_agent' | 'bad_signature' | 'bad_batch' | 'stale' | 'replay';

export interface AgentBatch {
  v: 1;
  agent: string;
  project: string;
  sentAt: number;
  nonce: string;
  seq?: number;
  dropped?: number;
  events: Record<string, unknown>[];
}

export type Verified = { ok: true; batch: AgentBatch } | { ok: false; reason: RefusalReason; detail: string };

const refuse = (reason: RefusalReason, detail: string): Verified => ({ ok: false, reason, detail });

function signatureMatches(body: Buffer, sigHex: string, secrets: Buffer[]): boolean {
  if (!/^[0-9a-f]{64}$/i.test(sigHex)) return false;
  const given = Buffer.from(sigHex, 'hex');
  // Every secret is tried (no early exit), so timing does not tell which one matched.
  let match = false;
  for (const secret of secrets) match = timingSafeEqual(createHmac('sha256', secret).update(body).digest(), given) || match;
  return match;
}

/**
 * The agent's credentials if the signature is one of its live secrets'; 'mismatch' if not; null
 * for an unknown or revoked agent. A mismatch is asked again past the store's cache: a rotation
 * on another replica gives the agent a secret this one's cache does not hold yet, and a refused
 * batch is final (acknowledged, gone).
 */
async function signedBy(body: Buffer, agentId: string, sigHex: string, keys: AgentKeyStore): Promise<AgentCredentials | 'mismatch' | null> {
  const cached = await keys.lookup(agentId);
  if (!cached) return null;
  if (signatureMatches(body, sigHex, cached.secrets)) return cached;
  const fresh = await keys.lookup(agentId, { fresh: true });
  if (!fresh) return null;
  return signatureMatches(body, sigHex, fresh.secrets) ? fresh : 'mismatch';
}

export interface VerifyOptions {
  /** Refuse batches whose sentAt is further than this from now (HTTP only). */
  staleMs?: number;
  now?: number;
}

export async function verifyAgentBatch(body: Buffer, agentId: string, sigHex: string, keys: AgentKeyStore, opts: VerifyOptions = {}): Promise<Verified> {
  if (body.length > MAX_BATCH_BYTES) return refuse('bad_batch', `batch is larger than ${MAX_BATCH_BYTES} bytes`);
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(agentId)) return refuse('unknown_agent', 'malformed agent id');
  const creds = await signedBy(body, agentId, sigHex, keys);
  if (!creds) return refuse('unknown_agent', `agent ${agentId} is unknown or revoked`);
  if (creds === 'mismatch') return refuse('bad_signature', 'the signature does not match the batch');
  let batch: AgentBatch;
  try {
    batch = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse('bad_batch', 'batch is not JSON');
  }
  if (typeof batch !== 'object' || batch === null || batch.v !== 1) return refuse('bad_batch', 'unknown batch version');
  if (batch.agent !== agentId) return refuse('bad_batch', 'batch names another agent than the one that signed it');
  if (batch.project !== creds.project) return refuse('bad_batch', `agent ${agentId} reports into project ${creds.project}, not ${String(batch.project)}`);
  if (typeof batch.nonce !== 'string' || !/^[0-9a-f]{16,64}$/i.test(batch.nonce)) return refuse('bad_batch', 'missing or malformed nonce');
  if (typeof batch.sentAt !== 'number' || !Number.isFinite(batch.sentAt)) return refuse('bad_batch', 'missing sentAt');
  if (!Array.isArray(batch.events) || batch.events.length > MAX_BATCH_EVENTS) return refuse('bad_batch', `events must be a list of at most ${MAX_BATCH_EVENTS}`);
  if (batch.events.some((e) => typeof e !== 'object' || e === null || (e as { project?: unknown }).project !== creds.project)) {
    return refuse('bad_batch', 'every event must name the agent’s project');
  }
  if (opts.staleMs !== undefined && Math.abs((opts.now ?? Date.now()) - batch.sentAt) > opts.staleMs) return refuse('stale', 'sentAt is too far from the service clock');
  return { ok: true, batch };
}

/** Signs a batch as an agent does (tests, benchmarks). */
export function signBatch(body: Buffer | string, secret: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}
