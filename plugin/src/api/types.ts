// Shapes exchanged with the z4j service (mirrors the service's OpenAPI document, served at
// /api/openapi.json) and the app's plugin settings stored by Grafana.

/** GET /api/healthz */
export interface ServiceHealth {
  status: string;
  version: string;
  storage: 'postgres' | 'pglite';
  engines?: Array<{ engine: string; lastSeenAt: string }>;
}

/** Every service error: `{error: {code, message}}`. */
export interface ServiceErrorBody {
  error: { code: string; message: string };
}

/** The app's jsonData (readable by every user of the org: no secrets here). */
export interface AppSettings {
  serviceUrl?: string;
}

/** The app's secureJsonData: write-only from the browser, added to proxied requests by Grafana. */
export interface AppSecureSettings {
  proxySecret?: string;
}
