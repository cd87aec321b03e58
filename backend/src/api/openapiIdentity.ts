// OpenAPI description of the identity and trust routes (merged into openapi.ts).
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra });
const time = { type: 'string', format: 'date-time' };
const role = { type: 'string', enum: ['viewer', 'operator', 'admin', 'owner'] };
const projectQ = { name: 'project', in: 'query', schema: { type: 'string' }, description: 'Project slug (default: the configured project).' };
const projectP = { name: 'project', in: 'path', required: true, schema: { type: 'string' } };
const pathP = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const body = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
const err = (description: string) => json(ref('Error'), description);
const auth = {
  '401': err('No or wrong credentials (CREDENTIALS_MISSING, PROXY_SECRET_WRONG, IDENTITY_*, ID_TOKEN_*, TOKEN_*); audited'),
  '403': err('Role too low in the project (ROLE_TOO_LOW, USER_REQUIRED); audited'),
};
const write = { ...auth, '400': err('Invalid input (BAD_REQUEST, MALFORMED_JSON); audited'), '413': err('Body too large (BODY_TOO_LARGE)'), '404': err('Not found') };
const read = { ...auth, '404': err('Not found (PROJECT_NOT_FOUND)') };
const op = (summary: string, responses: object, extra: object = {}) => ({ summary, responses, ...extra });
/** The explorer's keyset pagination (api/keyset.ts): `limit` and `cursor` in, `nextCursor` out. */
const pageQ = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 }, description: 'Page size, 1–500 (default 50).' },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'nextCursor of the previous page.' },
];
const page = (key: string, item: string) => json({ type: 'object', required: [key, 'nextCursor'], properties: { [key]: { type: 'array', items: ref(item) }, nextCursor: nullable('string') } });
const badPage = { '400': err('Bad request (code BAD_REQUEST, BAD_CURSOR)') };

export const identityPaths = {
  '/api/me': { get: op('The caller, their Grafana role and their role in the project', { '200': json(ref('Me')), ...read }, { parameters: [projectQ] }) },
  '/api/projects': {
    get: op("Projects the caller has a role in", { '200': json({ type: 'object', properties: { projects: { type: 'array', items: ref('Project') } } }), ...auth }),
    post: op('Create a project (Grafana server admin or an Owner of any project); the creator becomes Owner', { '201': json({ type: 'object', properties: { project: ref('Project') } }), ...write, '409': err('PROJECT_EXISTS') }, {
      requestBody: body({ type: 'object', required: ['slug', 'name'], properties: { slug: { type: 'string' }, name: { type: 'string' } } }),
    }),
  },
  '/api/projects/{project}': {
    get: op('One project (Viewer)', { '200': json({ type: 'object', properties: { project: ref('Project') } }), ...read }, { parameters: [projectP] }),
    patch: op('Rename a project (Admin)', { '200': json({ type: 'object' }), ...write }, { parameters: [projectP], requestBody: body({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } }) }),
    delete: op('Delete a project (Owner); its audit chain is kept', { '204': { description: 'Deleted' }, ...write, '409': err('PROJECT_IN_USE (the configured project)') }, { parameters: [projectP] }),
  },
  '/api/projects/{project}/transfer': {
    post: op('Make another Grafana user Owner; the caller becomes Admin (Owner)', { '200': json({ type: 'object' }), ...write }, {
      parameters: [projectP],
      requestBody: body({ type: 'object', required: ['userId', 'login'], properties: { userId: { type: 'integer' }, login: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' } } }),
    }),
  },
  '/api/members': { get: op('Explicit members (Admin)', { '200': json({ type: 'object', properties: { members: { type: 'array', items: ref('Member') } } }), ...read }, { parameters: [projectQ] }) },
  '/api/members/{userId}': {
    put: op('Add or change a member by Grafana user id (Admin; Owner role only by an Owner)', { '200': json({ type: 'object', properties: { member: ref('Member') } }), '201': json({ type: 'object', properties: { member: ref('Member') } }), ...write }, {
      parameters: [pathP('userId'), projectQ],
      requestBody: body({ type: 'object', required: ['login', 'role'], properties: { login: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' }, role } }),
    }),
    delete: op('Remove a member (Admin)', { '204': { description: 'Removed' }, ...write }, { parameters: [pathP('userId'), projectQ] }),
  },
  '/api/role-rules': {
    get: op('How Grafana roles and teams map to project roles (Admin)', { '200': json({ type: 'object', properties: { roleMapping: ref('RoleMapping') } }), ...read }, { parameters: [projectQ] }),
    put: op('Replace the role mapping (Admin; new Owner grants need an Owner)', { '200': json({ type: 'object', properties: { roleMapping: ref('RoleMapping') } }), ...write }, { parameters: [projectQ], requestBody: body(ref('RoleMapping')) }),
  },
  '/api/invitations': {
    get: op('Invitations, newest first, with keyset pagination (Admin)', { '200': page('invitations', 'Invitation'), ...read, ...badPage }, { parameters: [projectQ, ...pageQ] }),
    post: op('Invite an email address with a role: mails a single-use link (Admin; rate limited)', {
      '201': json({ type: 'object', properties: { invitation: ref('Invitation') } }), ...write, '429': err('RATE_LIMITED'), '502': err('MAIL_FAILED'), '503': err('SMTP_NOT_CONFIGURED'),
    }, { parameters: [projectQ], requestBody: body({ type: 'object', required: ['email', 'role'], properties: { email: { type: 'string' }, role } }) }),
  },
  '/api/invitations/{id}': { delete: op('Revoke a pending invitation (Admin)', { '200': json({ type: 'object', properties: { invitation: ref('Invitation') } }), ...write }, { parameters: [pathP('id'), projectQ] }) },
  '/api/invitations/accept': {
    post: op('Accept an invitation as the signed-in Grafana user', {
      '200': json({ type: 'object', properties: { project: { type: 'object', properties: { slug: { type: 'string' } } }, role } }),
      ...write, '403': err('INVITATION_FOR_ANOTHER_EMAIL, INVITATION_EMAIL_UNVERIFIED (Z4J_INVITATIONS_VERIFIED_EMAIL), USER_REQUIRED'), '404': err('INVITATION_INVALID'), '409': err('INVITATION_ALREADY_USED'), '410': err('INVITATION_EXPIRED, INVITATION_REVOKED, PROJECT_DELETED'),
    }, { requestBody: body({ type: 'object', required: ['token'], properties: { token: { type: 'string' } } }) }),
  },
  '/api/tokens': {
    get: op('API tokens, newest first, with keyset pagination (Admin)', { '200': page('tokens', 'ApiToken'), ...read, ...badPage }, { parameters: [projectQ, ...pageQ] }),
    post: op('Mint an API token: the secret is in this response only (Admin)', { '201': json({ type: 'object', properties: { token: ref('ApiToken'), secret: { type: 'string' } } }), ...write }, {
      parameters: [projectQ],
      requestBody: body({ type: 'object', required: ['name', 'role'], properties: { name: { type: 'string' }, role: { type: 'string', enum: ['viewer', 'operator', 'admin'] }, expiresInDays: { type: 'integer', minimum: 1, maximum: 365 } } }),
    }),
  },
  '/api/alerting/readers': {
    get: op("The database roles Grafana's \"z4j alerting\" data source may read this project's z4j_alerting views as (granted and revoked with `z4j alerting` on the command line; none on embedded storage) (Admin)", {
      '200': json({ type: 'object', properties: { storage: { type: 'string', enum: ['postgres', 'pglite'] }, readers: { type: 'array', items: ref('AlertingReader') } } }), ...read,
    }, { parameters: [projectQ] }),
  },
  '/api/tokens/{id}': { delete: op('Revoke an API token (Admin)', { '200': json({ type: 'object', properties: { token: ref('ApiToken') } }), ...write }, { parameters: [pathP('id'), projectQ] }) },
  '/api/agents': {
    get: op('Agent credentials, newest first, with keyset pagination (Admin)', { '200': page('agents', 'Agent'), ...read, ...badPage }, { parameters: [projectQ, ...pageQ] }),
    post: op('Mint agent credentials: agent id and secret, shown once (Admin)', { '201': json(ref('AgentSecret')), ...write }, {
      parameters: [projectQ], requestBody: body({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } }),
    }),
  },
  '/api/agents/{agentId}/rotate': {
    post: op('New secret; the old one keeps working for overlapSeconds (Admin)', { '200': json(ref('AgentSecret')), ...write }, {
      parameters: [pathP('agentId'), projectQ], requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { overlapSeconds: { type: 'integer', minimum: 0, maximum: 604800 } } } } } },
    }),
  },
  '/api/agents/{agentId}': { delete: op('Revoke agent credentials: refused within seconds (Admin)', { '200': json({ type: 'object', properties: { agent: ref('Agent') } }), ...write }, { parameters: [pathP('agentId'), projectQ] }) },
  '/api/audit': {
    get: op('Audit log, newest first, with filters and keyset pagination (Admin)', { '200': json({ type: 'object', properties: { entries: { type: 'array', items: ref('AuditEntry') }, nextCursor: nullable('string') } }), ...read, '400': err('BAD_REQUEST') }, {
      parameters: [projectQ, ...['actor', 'action', 'target', 'outcome', 'from', 'to', 'limit', 'cursor'].map((name) => ({ name, in: 'query', schema: { type: 'string' } }))],
    }),
  },
  '/api/audit/verify': { get: op("Verify the project's audit chain; reports the first broken row (Admin)", { '200': json(ref('AuditVerification')), ...read }, { parameters: [projectQ] }) },
  '/api/audit/rotate-key': {
    post: op("Rotate the service's audit key (one ring MACs every project's chain) and record it in every live project's chain (Grafana server admin; 403 ROLE_TOO_LOW otherwise, USER_REQUIRED for a token). At most once an hour", {
      '200': json({ type: 'object', properties: { keyId: { type: 'integer' }, previousKeyId: nullable('integer'), projects: { type: 'integer', description: 'Live projects whose chain recorded the rotation' } } }),
      ...write,
      '409': err('No new key: AUDIT_KEY_NOT_NEW (Z4J_AUDIT_KEYS has no key not yet recorded), AUDIT_KEY_IDS_USED_UP; AUDIT_KEY_FILE_CHANGED (the key file no longer holds the keys in use)'),
      '429': err('AUDIT_KEY_ROTATED_RECENTLY: the last rotation was less than an hour ago; Retry-After says when'),
    }),
  },
};

export const identitySchemas = {
  Me: {
    type: 'object', required: ['user', 'project', 'role', 'grafanaRole', 'isGrafanaAdmin'],
    properties: {
      user: { type: 'object', properties: { login: { type: 'string' }, name: nullable('string'), email: nullable('string') } },
      project: { type: 'object', properties: { slug: { type: 'string' }, name: { ...nullable('string'), description: 'null when the caller has no role in the project' } } },
      role: { type: ['string', 'null'], enum: [...role.enum, null] },
      grafanaRole: nullable('string'),
      isGrafanaAdmin: { type: 'boolean' },
    },
  },
  Project: { type: 'object', properties: { slug: { type: 'string' }, name: { type: 'string' }, role } },
  Member: { type: 'object', properties: { userId: { type: 'string' }, login: { type: 'string' }, email: nullable('string'), name: nullable('string'), role, createdBy: { type: 'string' }, createdAt: time, updatedAt: time } },
  RoleMapping: {
    type: 'object',
    description: 'A PUT replaces the whole mapping: every field is required (leaving out teams would drop every team rule)',
    required: ['grafanaOrgId', 'serverAdmin', 'orgRoles', 'teams'],
    properties: {
      grafanaOrgId: nullable('integer'),
      serverAdmin: { type: ['string', 'null'] },
      orgRoles: { type: 'object', required: ['Admin', 'Editor', 'Viewer', 'None'], properties: { Admin: { type: ['string', 'null'] }, Editor: { type: ['string', 'null'] }, Viewer: { type: ['string', 'null'] }, None: { type: ['string', 'null'] } } },
      teams: { type: 'array', items: { type: 'object', properties: { teamId: { type: 'integer' }, role } } },
    },
  },
  Invitation: { type: 'object', properties: { id: { type: 'string' }, email: { type: 'string' }, role, invitedBy: { type: 'string' }, createdAt: time, expiresAt: time, acceptedAt: nullable('string'), acceptedByUserId: nullable('string'), revokedAt: nullable('string'), status: { type: 'string', enum: ['pending', 'accepted', 'revoked', 'expired'] } } },
  ApiToken: {
    type: 'object',
    properties: {
      id: { type: 'string' }, name: { type: 'string' }, role: { ...role, description: 'The role it was minted with' },
      effectiveRole: {
        type: ['string', 'null'], enum: [...role.enum, null],
        description: "The role it acts with now: `role` capped by its maker's current role in the project (null: the maker has none there). "
          + "The maker's Grafana org role and teams are as last seen on the maker's own calls. Equal to `role` for tokens made before makers were recorded.",
      },
      createdBy: { type: 'string' }, createdAt: time, expiresAt: time, revokedAt: nullable('string'), lastUsedAt: nullable('string'),
    },
  },
  AlertingReader: { type: 'object', properties: { role: { type: 'string' }, everyProject: { type: 'boolean', description: 'Granted every project (later ones too), not this one alone.' }, grantedAt: time, grantedBy: { type: 'string' }, roleMissing: { type: 'boolean', description: 'The role no longer exists on the server: the grant reads nothing.' } } },
  Agent: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, createdBy: { type: 'string' }, createdAt: time, revokedAt: nullable('string'), liveSecrets: { type: 'integer' }, overlapEndsAt: nullable('string') } },
  AgentSecret: { type: 'object', properties: { agent: ref('Agent'), agentId: { type: 'string' }, secret: { type: 'string' }, project: { type: 'string' } } },
  AuditEntry: {
    type: 'object',
    properties: {
      id: { type: 'string' }, seq: { type: 'integer' }, at: time, actorKind: { type: 'string', enum: ['user', 'token', 'anonymous', 'system'] }, actorId: nullable('string'), actorName: nullable('string'),
      action: { type: 'string' }, target: nullable('string'), outcome: { type: 'string', enum: ['ok', 'refused', 'error'] }, detail: { type: ['object', 'null'] },
      ip: nullable('string'), forwardedFor: nullable('string'), requestId: nullable('string'), keyId: { type: 'integer' },
    },
  },
  AuditVerification: {
    type: 'object',
    properties: {
      ok: { type: 'boolean' }, checked: { type: 'integer' }, lastSeq: { type: 'integer' }, prunedThroughSeq: { type: 'integer' },
      firstBroken: { type: ['object', 'null'], properties: { seq: nullable('integer'), id: nullable('string'), reason: { type: 'string' } } },
    },
  },
};
