// The browser test host's server: it stands where Grafana's server stands for the plugin.
//  - serves the host page (host.tsx bundle) for every /a/... URL and the built plugin under
//    /public/plugins/<id>/, as Grafana does;
//  - behaves like Grafana's app plugin proxy on /api/plugin-proxy/<id>/api/*: drops whatever
//    identity headers the browser sent, then adds the proxy secret, X-Grafana-Context (the
//    signed-in user) and X-Grafana-Id (an ES256 JWT signed by a test key);
//  - answers Grafana's user search (/api/org/users/lookup) with its test users;
//  - publishes that key's JWKS at /api/signing-keys/keys, where the service (GRAFANA_URL =
//    this server) fetches it.
// The signed-in user is chosen with /login?as=viewer|operator|admin (a cookie).
// Run alone: node tests/host/server.mjs --service http://127.0.0.1:8080 --secret <secret> [--port 3000] [--grafana 12|13]
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import RUNTIMES from './runtimes.cjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PLUGIN_DIST = join(HERE, '..', '..', 'dist');
// Grafana serves @grafana/ui's icons from public/build/img/icons/: those of the runtime served.
const iconsOf = (runtime) =>
  runtime.nodeModules
    .map((dir) => join(dir, '@grafana', 'ui', 'dist', 'public', 'img', 'icons'))
    .find((dir) => existsSync(dir));
const PLUGIN_ID = 'z4j-taskqueue-app';
const PROXY_PREFIX = `/api/plugin-proxy/${PLUGIN_ID}/api/`;

/** Grafana users of the test organization; their org roles map to these project roles by default. */
export const USERS = {
  viewer: {
    UserID: 31,
    Login: 'vic-viewer',
    Name: 'Vic Viewer',
    Email: 'vic@example.com',
    OrgID: 1,
    OrgRole: 'Viewer',
    IsGrafanaAdmin: false,
    Teams: [],
  },
  operator: {
    UserID: 32,
    Login: 'olga-oncall',
    Name: 'Olga Oncall',
    Email: 'olga@example.com',
    OrgID: 1,
    OrgRole: 'Editor',
    IsGrafanaAdmin: false,
    Teams: [],
  },
  admin: {
    UserID: 33,
    Login: 'ada-admin',
    Name: 'Ada Admin',
    Email: 'ada@example.com',
    OrgID: 1,
    OrgRole: 'Admin',
    IsGrafanaAdmin: false,
    Teams: [],
  },
};

const TYPES = {
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.ttf': 'font/ttf',
  '.png': 'image/png',
  '.css': 'text/css',
};

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>z4j — test host</title>
<style>html,body{margin:0;height:100%}</style><script>window.__grafana_public_path__ = '/public/';</script></head><body><div id="root">Loading…</div><script src="/host/host.js"></script></body></html>`;

function serveFile(res, root, rel) {
  const file = normalize(join(root, rel));
  if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${rel}`);
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-store',
  });
  createReadStream(file).pipe(res);
}

function userOf(req) {
  const m = /(?:^|;\s*)z4j_user=(\w+)/.exec(req.headers.cookie ?? '');
  return USERS[m?.[1]] ? m[1] : 'admin';
}

/** `grafana`: the runtime the plugin runs on, 12 (React 18) or 13 (Grafana 13.2 and later: React 19). */
export async function startTestHost({ serviceUrl, proxySecret, port = 0, grafana = 12 }) {
  const runtime = RUNTIMES[grafana];
  if (!runtime) {
    throw new Error(`the test host knows Grafana ${Object.keys(RUNTIMES).join(' and ')}, not ${grafana}`);
  }
  if (!existsSync(join(runtime.hostDist, 'host.js'))) {
    throw new Error(`${join(runtime.hostDist, 'host.js')} is missing: run \`npm run build:test-host -w plugin\` first`);
  }
  const icons = iconsOf(runtime);
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'z4j-test-host', alg: 'ES256', use: 'sig' };
  let service = serviceUrl;
  let self = '';

  const idToken = (u) =>
    new SignJWT({ username: u.Login, email: u.Email, role: u.OrgRole })
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'jwt' })
      .setIssuer(`${self}/`)
      .setSubject(`user:${u.UserID}`)
      .setAudience(`org:${u.OrgID}`)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);

  const proxy = async (req, res, path) => {
    if (!service) {
      res
        .writeHead(502, { 'content-type': 'application/json' })
        .end(JSON.stringify({ message: 'no service URL configured' }));
      return;
    }
    const user = USERS[userOf(req)];
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) {
      // Like Grafana: the browser cannot choose who it is, nor see or set the secret.
      if (!/^(x-grafana-|x-z4j-|cookie$|host$|authorization$)/i.test(k)) {
        headers[k] = v;
      }
    }
    headers['x-z4j-proxy-secret'] = proxySecret;
    headers['x-grafana-context'] = JSON.stringify(user);
    headers['x-grafana-id'] = await idToken(user);
    const target = new URL(`/api/${path}`, service);
    const upstream = httpRequest(target, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
      }
      res.end(JSON.stringify({ message: `Grafana could not reach the service: ${err.message}` }));
    });
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://host');
    const path = url.pathname;
    if (path.startsWith(PROXY_PREFIX)) {
      return void proxy(req, res, path.slice(PROXY_PREFIX.length) + url.search);
    }
    if (path === '/api/signing-keys/keys') {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    }
    if (path === `/api/plugins/${PLUGIN_ID}/settings`) {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: PLUGIN_ID,
          enabled: true,
          jsonData: { serviceUrl: service },
          secureJsonFields: { proxySecret: true },
        })
      );
    }
    if (path === '/api/org/users/lookup') {
      // Grafana's user search, over the organization's users (the members form picks from it).
      const query = (url.searchParams.get('query') ?? '').toLowerCase();
      const found = Object.values(USERS)
        .map((u) => ({ userId: u.UserID, login: u.Login, name: u.Name, email: u.Email }))
        .filter((u) => JSON.stringify(u).toLowerCase().includes(query));
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(found));
    }
    if (path === '/login') {
      const as = USERS[url.searchParams.get('as')] ? url.searchParams.get('as') : 'admin';
      const next = url.searchParams.get('next') ?? `/a/${PLUGIN_ID}/tasks`;
      return void res
        .writeHead(302, {
          'set-cookie': `z4j_user=${as}; Path=/; SameSite=Lax`,
          location: next.startsWith('/') ? next : '/',
        })
        .end();
    }
    if (path.startsWith('/public/build/img/icons/') && icons) {
      return void serveFile(res, icons, path.slice('/public/build/img/icons/'.length));
    }
    if (path.startsWith('/host/')) {
      return void serveFile(res, runtime.hostDist, path.slice('/host/'.length));
    }
    if (path.startsWith(`/public/plugins/${PLUGIN_ID}/`)) {
      return void serveFile(res, PLUGIN_DIST, path.slice(`/public/plugins/${PLUGIN_ID}/`.length));
    }
    if (path === '/' || path.startsWith('/a/') || path === `/plugins/${PLUGIN_ID}` || path === '/explore') {
      return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  self = `http://127.0.0.1:${server.address().port}`;
  return {
    url: self,
    setServiceUrl: (u) => (service = u),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const host = await startTestHost({
    serviceUrl: arg('service', 'http://127.0.0.1:8080'),
    proxySecret: arg('secret', process.env.Z4J_PROXY_SECRET ?? ''),
    port: Number(arg('port', '3000')),
    grafana: Number(arg('grafana', '12')),
  });
  console.log(`test host on ${host.url}/a/${PLUGIN_ID}/tasks (start the service with GRAFANA_URL=${host.url})`);
}
