// Callers for API tests: the proxy secret plus a Grafana user whose Grafana role maps (by
// the default mapping) to the wanted project role. `authHeaders('operator')` → headers.
import { randomBytes } from 'node:crypto';
import type { ProjectRole } from '../../src/auth/roles.js';

export const TEST_PROXY_SECRET = 'test-proxy-secret-0123456789abcdef';

export interface TestUser {
  UserID: number;
  UserUID?: string;
  Login: string;
  Name?: string;
  Email?: string;
  OrgID: number;
  OrgRole: 'Admin' | 'Editor' | 'Viewer' | 'None';
  IsGrafanaAdmin?: boolean;
  Teams?: number[];
}

/** One Grafana user per project role under the default mapping. */
export const TEST_USERS: Record<ProjectRole, TestUser> = {
  viewer: { UserID: 101, Login: 'vera', Name: 'Vera Viewer', Email: 'vera@example.com', OrgID: 1, OrgRole: 'Viewer' },
  operator: { UserID: 102, Login: 'otto', Name: 'Otto Operator', Email: 'otto@example.com', OrgID: 1, OrgRole: 'Editor' },
  admin: { UserID: 103, Login: 'ada', Name: 'Ada Admin', Email: 'ada@example.com', OrgID: 1, OrgRole: 'Admin' },
  owner: { UserID: 104, Login: 'olga', Name: 'Olga Owner', Email: 'olga@example.com', OrgID: 1, OrgRole: 'Admin', IsGrafanaAdmin: true },
};

/** Headers the Grafana app plugin proxy would add for this user (or role). */
export function userHeaders(user: TestUser, secret = TEST_PROXY_SECRET): Record<string, string> {
  return { 'x-z4j-proxy-secret': secret, 'x-grafana-context': JSON.stringify({ Teams: [], IsGrafanaAdmin: false, ...user }) };
}

export function authHeaders(role: ProjectRole = 'viewer'): Record<string, string> {
  return userHeaders(TEST_USERS[role]);
}

/** Bearer headers for an API token. */
export const tokenHeaders = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A fresh audit key (base64 of 32 bytes) for `Z4J_AUDIT_KEYS`-style configuration. */
export const randomKey = (): string => randomBytes(32).toString('base64');
