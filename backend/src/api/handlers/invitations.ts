// Invitations: an Admin invites an email address with a role (mailed link, rate limited per
// project and inviter), lists and revokes them; the invitee accepts signed in to Grafana.
import { z } from 'zod';
import { appendAudit, auditRequest, requestMeta } from '../../audit/record.js';
import { actorOf, authOf, projectOfAuth, refusalAudited } from '../../auth/caller.js';
import {
  acceptInvitation, createInvitation, invitationLink, InvitationRefused, listInvitations, recentInvitations, revokeInvitation, INVITATION_DAYS,
} from '../../auth/invitations.js';
import { PROJECT_ROLES } from '../../auth/roles.js';
import type { ApiContext } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { pageQuery } from '../keyset.js';
import type { Handler } from '../routes.js';
import { callerLabel, idParam, requireGrantable, requireUser } from './identity.js';

const createBody = z.object({ email: z.string().trim().email().max(320), role: z.enum(PROJECT_ROLES) }).strict();

export const createInvitationHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const { caller, role } = authOf(res);
  requireUser(caller);
  const body = createBody.parse(req.body);
  requireGrantable(role, body.role);
  const mailer = ctx.auth.mailer;
  if (!mailer) throw new ApiError(503, 'SMTP_NOT_CONFIGURED', 'invitations are sent by mail: set Z4J_SMTP_URL');
  const invitedBy = callerLabel(caller);
  const created = await ctx.db.transaction(async (tx) => {
    // Serialize one inviter's invitations so the rate limit cannot be raced.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`z4j-invite:${p.id}:${invitedBy}`]);
    if ((await recentInvitations(tx, p.id, invitedBy)) >= ctx.config.Z4J_INVITATIONS_PER_HOUR) {
      throw new ApiError(429, 'RATE_LIMITED', `at most ${ctx.config.Z4J_INVITATIONS_PER_HOUR} invitations per hour; try later`);
    }
    const c = await createInvitation(tx, p.id, { email: body.email, role: body.role, invitedBy });
    await auditRequest(ctx, req, res, { action: 'invitation.create', target: `invitation:${c.invitation.id}`, detail: { email: body.email, role: body.role } }, tx);
    return c;
  });
  const link = invitationLink(ctx.config, created.token);
  try {
    await mailer.send({
      to: body.email,
      subject: `You are invited to ${p.name} on z4j`,
      text:
        `${caller.kind === 'user' ? (caller.user.name ?? caller.user.login) : 'An administrator'} invited you to the z4j project "${p.name}" as ${body.role}.\n\n` +
        `Sign in to Grafana, then open this link to accept (it works once and expires in ${INVITATION_DAYS} days):\n\n${link}\n`,
    });
  } catch (err) {
    ctx.log.warn({ err: String(err), invitation: created.invitation.id }, 'invitation mail failed');
    await ctx.db.transaction(async (tx) => {
      await revokeInvitation(tx, p.id, created.invitation.id);
      await auditRequest(ctx, req, res, { action: 'invitation.mail', target: `invitation:${created.invitation.id}`, outcome: 'error', detail: { code: 'MAIL_FAILED' } }, tx);
    });
    throw new ApiError(502, 'MAIL_FAILED', 'the invitation mail could not be sent; it was revoked');
  }
  res.status(201).json({ invitation: created.invitation });
};

export const listInvitationsHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const page = await listInvitations(ctx.db, projectOfAuth(res).id, pageQuery.parse(req.query));
  res.json({ invitations: page.rows, nextCursor: page.nextCursor });
};

export const revokeInvitationHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const p = projectOfAuth(res);
  const id = idParam.parse(req.params.id);
  const invitation = await ctx.db.transaction(async (tx) => {
    const inv = await revokeInvitation(tx, p.id, id);
    if (!inv) throw notFound(`pending invitation ${id}`, 'INVITATION_NOT_FOUND');
    await auditRequest(ctx, req, res, { action: 'invitation.revoke', target: `invitation:${id}`, detail: { email: inv.email } }, tx);
    return inv;
  });
  res.json({ invitation });
};

const acceptBody = z.object({ token: z.string().min(1).max(200) }).strict();

/** The signed-in Grafana user accepts: the membership binds to their Grafana user id. */
export const acceptInvitationHandler = (ctx: ApiContext): Handler => async (req, res) => {
  const caller = requireUser(authOf(res).caller);
  const { token } = acceptBody.parse(req.body);
  try {
    const done = await ctx.db.transaction(async (tx) => {
      const a = await acceptInvitation(tx, token, { user: caller.user, verifiedEmail: caller.verifiedEmail, verifiedOnly: ctx.config.Z4J_INVITATIONS_VERIFIED_EMAIL });
      await auditRequest(ctx, req, res, {
        projectId: a.projectId, action: 'invitation.accept', target: `invitation:${a.invitation.id}`,
        // invitedAs: the invitation's role, when the user keeps another (a higher one, or one an Owner set).
        detail: { invited: a.invitation.email, email: a.email, role: a.role, ...(a.role !== a.invitation.role ? { invitedAs: a.invitation.role } : {}) },
      }, tx);
      return a;
    });
    res.json({ project: { slug: done.slug }, role: done.role });
  } catch (err) {
    if (err instanceof InvitationRefused && err.projectId !== null) {
      res.locals.audited = true; // in the invitation's project: not again in the configured one
      // Whoever holds a link can repeat a refused accept: audited up to the per-caller refusal limit.
      if (refusalAudited(caller)) {
        await appendAudit(ctx, {
          ...requestMeta(req, res), projectId: err.projectId, actor: actorOf(caller), action: 'invitation.accept',
          target: `invitation:${err.invitationId}`, outcome: 'refused', detail: { status: err.status, code: err.code },
        });
      }
    }
    throw err;
  }
};
