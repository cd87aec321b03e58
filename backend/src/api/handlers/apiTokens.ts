// API tokens (Admin): mint (the secret is in this one response only), list, revoke.
import { z } from 'zod';
import { auditRequest } from '../../audit/record.js';
import { listApiTokens, mintApiToken, revokeApiToken } from '../../auth/apiTokens.js';
import { authOf, projectOfAuth } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { pageQuery } from '../keyset.js';
import type { Handler } from '../routes.js';
import { callerLabel, idParam, nameSchema, requireGrantable, requireUser } from './identity.js';

const createBody = z.object({
  name: nameSchema,
  role: z.enum(['viewer', 'operator', 'admin']),
  expiresInDays: z.number().int().min(1).max(365).default(90),
}).strict();

export const createApiToken = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const { caller, role } = authOf(res);
  const user = requireUser(caller); // a token minting tokens would outlive its own revocation
  const body = createBody.parse(req.body);
  requireGrantable(role, body.role);
  const minted = await ctx.db.transaction(async (tx) => {
    const m = await mintApiToken(tx, p, { ...body, createdBy: callerLabel(caller), maker: { user: user.user, via: user.via } });
    await auditRequest(ctx, req, res, { action: 'token.create', target: `token:${m.token.id}`, detail: { name: body.name, role: body.role, expiresAt: new Date(m.token.expiresAt).toISOString() } }, tx);
    return m;
  });
  res.status(201).json({ token: minted.token, secret: minted.secret });
};

export const listApiTokensHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const page = await listApiTokens(ctx.db, projectOfAuth(res), pageQuery.parse(req.query));
  res.json({ tokens: page.rows, nextCursor: page.nextCursor });
};

export const revokeApiTokenHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const id = idParam.parse(req.params.id);
  const token = await ctx.db.transaction(async (tx) => {
    const t = await revokeApiToken(tx, p, id);
    if (!t) throw notFound(`token ${id}`, 'TOKEN_NOT_FOUND');
    await auditRequest(ctx, req, res, { action: 'token.revoke', target: `token:${id}`, detail: { name: t.name } }, tx);
    return t;
  });
  res.json({ token });
};
