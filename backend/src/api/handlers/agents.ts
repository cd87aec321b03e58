// Agent credentials (Admin): mint (agent id + secret, shown once), list, rotate with an
// overlap window, revoke (refused by ingest within AGENT_KEY_CACHE_MS).
import { z } from 'zod';
import { auditRequest } from '../../audit/record.js';
import { getAgent, listAgents, mintAgent, revokeAgent, rotateAgent } from '../../auth/agentCredentials.js';
import { authOf, projectOfAuth } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { pageQuery } from '../keyset.js';
import type { Handler } from '../routes.js';
import { callerLabel, idParam, nameSchema } from './identity.js';

const createBody = z.object({ name: nameSchema }).strict();
const rotateBody = z.object({ overlapSeconds: z.number().int().min(0).max(7 * 86400).default(3600) }).strict();

export const createAgent = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const body = createBody.parse(req.body);
  const minted = await ctx.db.transaction(async (tx) => {
    const m = await mintAgent(tx, ctx.sealer, p.id, { name: body.name, createdBy: callerLabel(authOf(res).caller) });
    await auditRequest(ctx, req, res, { action: 'agent.create', target: `agent:${m.agent.id}`, detail: { name: body.name } }, tx);
    return m;
  });
  ctx.auth.agentStore.invalidate(minted.agent.id);
  res.status(201).json({ agent: minted.agent, agentId: minted.agent.id, secret: minted.secret, project: p.slug });
};

export const listAgentsHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const page = await listAgents(ctx.db, projectOfAuth(res).id, pageQuery.parse(req.query));
  res.json({ agents: page.rows, nextCursor: page.nextCursor });
};

export const rotateAgentHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const id = idParam.parse(req.params.agentId);
  const body = rotateBody.parse(req.body ?? {});
  const rotated = await ctx.db.transaction(async (tx) => {
    const r = await rotateAgent(tx, ctx.sealer, p.id, id, body.overlapSeconds);
    if (!r) throw notFound(`agent ${id}`, 'AGENT_NOT_FOUND');
    await auditRequest(ctx, req, res, { action: 'agent.rotate', target: `agent:${id}`, detail: { overlapSeconds: body.overlapSeconds } }, tx);
    return r;
  });
  ctx.auth.agentStore.invalidate(id);
  res.json({ agent: rotated.agent, agentId: id, secret: rotated.secret, project: p.slug });
};

export const revokeAgentHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const id = idParam.parse(req.params.agentId);
  const agent = await ctx.db.transaction(async (tx) => {
    if (!(await getAgent(tx, p.id, id))) throw notFound(`agent ${id}`, 'AGENT_NOT_FOUND');
    const a = await revokeAgent(tx, p.id, id);
    await auditRequest(ctx, req, res, { action: 'agent.revoke', target: `agent:${id}` }, tx);
    return a;
  });
  ctx.auth.agentStore.invalidate(id);
  res.json({ agent });
};
