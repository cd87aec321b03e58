// Who reads the project through Grafana's alerting data source (alerting/readers.ts): shown to
// its Admins, granted and revoked only from the command line (`z4j alerting`), where database
// roles are managed.
import { listReaders } from '../../alerting/readers.js';
import { projectOfAuth } from '../../auth/caller.js';
import type { ApiContext } from '../context.js';
import type { Handler } from '../routes.js';

export const listAlertingReadersHandler = (ctx: ApiContext): Handler => async (_req, res) => {
  const p = projectOfAuth(res);
  // Embedded storage has no port Grafana could reach: nothing to grant, and pg_roles means nothing there.
  const readers = ctx.db.storage === 'postgres' ? await listReaders(ctx.db, p.id) : [];
  res.json({
    storage: ctx.db.storage,
    readers: readers.map((r) => ({ role: r.role, everyProject: r.project === null, grantedAt: r.grantedAt.toISOString(), grantedBy: r.grantedBy, roleMissing: r.roleMissing })),
  });
};
