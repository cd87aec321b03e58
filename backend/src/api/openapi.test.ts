import request from 'supertest';
import { ROUTES } from './routes.js';
import { openApiDocument } from './openapi.js';
import { testApp } from '../../test/helpers/api.js';
import { openTestDb } from '../../test/helpers/storage.js';
import { authHeaders } from '../../test/helpers/auth.js';

describe('the OpenAPI document', () => {
  const doc = openApiDocument('test');
  const toOpenApi = (path: string) => path.replace(/:(\w+)/g, '{$1}');

  it('describes every route of the service', () => {
    const undocumented = ROUTES.filter((r) => !(doc.paths as Record<string, Record<string, unknown>>)[toOpenApi(r.path)]?.[r.method]);
    expect(undocumented.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it('declares a role for every route', () => {
    expect(ROUTES.filter((r) => !r.role)).toEqual([]);
  });

  it('documents the engines a call can be sent with (sendable) in the capabilities reply', () => {
    const reply = (doc.paths as Record<string, { get?: { responses: Record<string, { content: Record<string, { schema: { required?: string[]; properties?: Record<string, unknown> } }> }> } }>)['/api/capabilities']!.get!.responses['200']!.content['application/json']!.schema;
    expect(reply.required).toEqual(expect.arrayContaining(['engines', 'sendable', 'capabilities']));
    expect(reply.properties?.sendable).toMatchObject({ type: 'array', items: { type: 'string' } });
  });

  it('resolves every schema reference', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    expect(refs.filter((r) => !(r in doc.components.schemas))).toEqual([]);
  });

  it('is served at /api/openapi.json', async () => {
    const db = await openTestDb('pglite', 'openapi');
    try {
      const res = await request(testApp(db).app).get('/api/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe('3.1.0');
      const metrics = await request(testApp(db).app).get('/metrics');
      expect(metrics.text).toContain('z4j_ingest_events_persisted_total');
      const bad = await request(testApp(db).app).post('/api/projects').set(authHeaders('owner')).set('content-type', 'application/json').send('{"broken');
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('MALFORMED_JSON');
      expect(JSON.stringify(bad.body)).not.toMatch(/at .*\.js/);
    } finally {
      await db.close();
    }
  });
});
