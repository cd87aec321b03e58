// Project roles and how a Grafana user gets one: an explicit membership, else the
// project's mapping of Grafana roles and teams (default: server admin → Owner,
// org Admin → Admin, Editor → Operator, Viewer → Viewer).
import { z } from 'zod';

export const PROJECT_ROLES = ['viewer', 'operator', 'admin', 'owner'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

const RANK: Record<ProjectRole, number> = { viewer: 1, operator: 2, admin: 3, owner: 4 };

/** SQL for a role's rank (1 viewer … 4 owner, null for no role), from the same list: for comparisons in queries. */
export const roleRankSql = (expr: string): string => `array_position(ARRAY[${PROJECT_ROLES.map((r) => `'${r}'`).join(',')}]::text[], ${expr})`;

export const atLeast = (role: ProjectRole | null, needed: ProjectRole): boolean => role !== null && RANK[role] >= RANK[needed];

export const higher = (a: ProjectRole | null, b: ProjectRole | null): ProjectRole | null =>
  a === null ? b : b === null ? a : RANK[a] >= RANK[b] ? a : b;

/** The lower of two roles; null (no role) is lowest. */
export const lower = (a: ProjectRole | null, b: ProjectRole | null): ProjectRole | null =>
  a === null || b === null ? null : RANK[a] <= RANK[b] ? a : b;

export const GRAFANA_ORG_ROLES = ['Admin', 'Editor', 'Viewer', 'None'] as const;

const role = z.enum(PROJECT_ROLES).nullable();

/** A project's role mapping, as stored in projects.role_mapping and edited by Admins. */
export const roleMappingSchema = z
  .object({
    /** Only users of this Grafana organization are mapped (null: any organization). Memberships apply regardless. */
    grafanaOrgId: z.number().int().positive().nullable().default(null),
    serverAdmin: role.default('owner'),
    orgRoles: z
      .object({ Admin: role.default('admin'), Editor: role.default('operator'), Viewer: role.default('viewer'), None: role.default(null) })
      .strict()
      .default({ Admin: 'admin', Editor: 'operator', Viewer: 'viewer', None: null }),
    /** Grafana team id → role: a member of the team gets at least that role. */
    teams: z.array(z.object({ teamId: z.number().int().positive(), role: z.enum(PROJECT_ROLES) }).strict()).max(200).default([]),
  })
  .strict();
export type RoleMapping = z.output<typeof roleMappingSchema>;

/**
 * A whole mapping, as a PUT replaces it: every field given, none defaulted. A body that left out
 * `teams` would otherwise drop every team rule without a word ({} would reset the mapping).
 */
export const roleMappingReplacementSchema = z
  .object({
    grafanaOrgId: z.number().int().positive().nullable(),
    serverAdmin: role,
    orgRoles: z.object({ Admin: role, Editor: role, Viewer: role, None: role }).strict(),
    teams: roleMappingSchema.shape.teams.removeDefault(),
  })
  .strict();

export const DEFAULT_ROLE_MAPPING: RoleMapping = roleMappingSchema.parse({});

/** A project's stored role_mapping, or the default when it has none (or one this version cannot read). */
export function roleMappingOf(stored: unknown): RoleMapping {
  const mapping = stored ? roleMappingSchema.safeParse(stored) : null;
  return mapping?.success ? mapping.data : DEFAULT_ROLE_MAPPING;
}

export interface GrafanaUserRoles {
  orgId: number;
  orgRole: string | null;
  isGrafanaAdmin: boolean;
  teams: number[];
}

/** The role the mapping gives (the highest of every rule that matches), or null. */
export function mappedRole(mapping: RoleMapping, user: GrafanaUserRoles): ProjectRole | null {
  if (mapping.grafanaOrgId !== null && mapping.grafanaOrgId !== user.orgId) return null;
  let out: ProjectRole | null = null;
  if (user.isGrafanaAdmin) out = higher(out, mapping.serverAdmin);
  const org = GRAFANA_ORG_ROLES.find((r) => r === user.orgRole);
  if (org) out = higher(out, mapping.orgRoles[org]);
  for (const t of mapping.teams) if (user.teams.includes(t.teamId)) out = higher(out, t.role);
  return out;
}

/**
 * A user's role from their explicit membership (if any) and what the mapping gives them. A
 * membership overrides the mapping up or down, except that only one an Owner wrote lowers an
 * Owner the mapping makes: an Admin can write a membership for any user id, and only Owners
 * take Owner away.
 */
export function memberOrMapped(member: { role: ProjectRole; setByOwner: boolean } | undefined, mapped: ProjectRole | null): ProjectRole | null {
  if (member && (member.setByOwner || mapped !== 'owner')) return member.role;
  return mapped;
}
