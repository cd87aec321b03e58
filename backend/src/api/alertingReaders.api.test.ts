// GET /api/alerting/readers: a project's Admins see which database roles read it through
// Grafana's alerting data source, the grants of that project and of every project, no other's.
import request from 'supertest';
import type { Db } from '../db/db.js';
import { testApp } from '../../test/helpers/api.js';
import { authHeaders } from '../../test/helpers/auth.js';
import { STORAGES, openTestDb } from '../../test/helpers/storage.js';

describe.each(STORAGES)('GET /api/alerting/readers on %s', (storage) => {
  let db: Db;
  let app: ReturnType<typeof testApp>['app'];

  beforeAll(async () => {
    db = await openTestDb(storage, 'alerting_api');
    app = testApp(db).app;
    await db.query(`INSERT INTO projects (slug, name) VALUES ('other', 'Other')`);
    // Grants as `z4j alerting grant` leaves them (the roles need not exist for the list).
    await db.query(`INSERT INTO alerting_readers (role_name, project_id, granted_by, granted_at) VALUES
                      ('grafana_ops', NULL, 'cli:ada', '2026-12-01T10:00:00Z'),
                      ('grafana_team', (SELECT id FROM projects WHERE slug = 'default'), 'cli:ada', '2026-12-02T10:00:00Z'),
                      ('grafana_other', (SELECT id FROM projects WHERE slug = 'other'), 'cli:bob', '2026-12-03T10:00:00Z')`);
  });
  afterAll(async () => {
    await db?.close();
  });

  it(storage === 'postgres' ? "lists the roles that read the project: its own grants and every project's" : 'lists none: Grafana cannot reach embedded storage', async () => {
    const res = await request(app).get('/api/alerting/readers').set(authHeaders('admin'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      storage,
      readers: storage === 'postgres'
        ? [
            { role: 'grafana_ops', everyProject: true, grantedAt: '2026-12-01T10:00:00.000Z', grantedBy: 'cli:ada', roleMissing: true },
            { role: 'grafana_team', everyProject: false, grantedAt: '2026-12-02T10:00:00.000Z', grantedBy: 'cli:ada', roleMissing: true },
          ]
        : [],
    });
  });

  it("is the project's Admins' alone", async () => {
    for (const role of ['viewer', 'operator'] as const) {
      const res = await request(app).get('/api/alerting/readers').set(authHeaders(role));
      expect([role, res.status, res.body.error?.code]).toEqual([role, 403, 'ROLE_TOO_LOW']);
    }
  });
});
