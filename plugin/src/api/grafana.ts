// Grafana's own API (not the z4j service): what the plugin asks Grafana itself.
import { lastValueFrom } from 'rxjs';
import { getBackendSrv } from '@grafana/runtime';

/** A user of the Grafana organization, as Grafana's user lookup returns them. */
export interface GrafanaOrgUser {
  userId: number;
  login: string;
  name?: string;
  email?: string;
}

/**
 * Grafana's own user search (what its team and permission pickers use), for the members form:
 * people are picked by name, not typed in by numeric id. Needs the org user read permission
 * (Grafana org Admins have it).
 */
export async function lookupGrafanaUsers(query: string): Promise<GrafanaOrgUser[]> {
  const response = await lastValueFrom(
    getBackendSrv().fetch<GrafanaOrgUser[]>({
      url: '/api/org/users/lookup',
      params: { query, limit: 20 },
      showErrorAlert: false,
    })
  );
  return response.data ?? [];
}
