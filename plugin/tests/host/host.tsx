// A stand-in for Grafana's frontend, for browser tests: it provides the modules Grafana shares
// with plugins (React, @grafana/*, rxjs, react-router, @emotion/css) under the names the
// plugin's AMD module.js asks for, sets up the runtime services Grafana sets up (backend
// service over fetch, location service on the browser history, PluginPage), loads the built
// dist/module.js the way Grafana's plugin loader does, and mounts the app under /a/<id>/.
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as ReactRouter from 'react-router';
import { Route, Router, Routes } from 'react-router-dom';
import * as rxjs from 'rxjs';
import * as emotionCss from '@emotion/css';
import * as grafanaData from '@grafana/data';
import * as grafanaUi from '@grafana/ui';
import * as grafanaRuntime from '@grafana/runtime';
import { createTheme, ThemeContext, type AppPlugin } from '@grafana/data';
import { GlobalStyles } from '@grafana/ui';
import {
  locationService,
  setBackendSrv,
  setTemplateSrv,
  type BackendSrv,
  type BackendSrvRequest,
  type TemplateSrv,
} from '@grafana/runtime';
import { PluginPageStub } from '../../src/test/PluginPageStub';

const PLUGIN_ID = 'z4j-taskqueue-app';
const MODULE_URL = `/public/plugins/${PLUGIN_ID}/module.js`;
// The nested data source: its own plugin id, served from the app's folder as Grafana does.
const DATASOURCE_ID = 'z4j-taskqueue-datasource';
const DATASOURCE_MODULE_URL = `/public/plugins/${PLUGIN_ID}/datasource/module.js`;

/** A trend query as the data source writes it (the host reads only refId). */
type TrendQuery = grafanaData.DataQuery & Record<string, unknown>;

// ---- the backend service: Grafana's fetch, reduced to what plugins rely on ----------------

function fetchObservable<T>(options: BackendSrvRequest): rxjs.Observable<grafanaRuntime.FetchResponse<T>> {
  return new rxjs.Observable((subscriber) => {
    const url = new URL(options.url, window.location.origin);
    for (const [k, v] of Object.entries(options.params ?? {})) {
      if (v !== undefined && v !== null) {
        url.searchParams.set(k, String(v));
      }
    }
    const init: RequestInit = {
      method: options.method ?? 'GET',
      headers: {
        accept: 'application/json',
        ...(options.data !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.headers ?? {}),
      },
      body: options.data !== undefined ? JSON.stringify(options.data) : undefined,
      credentials: 'same-origin',
    };
    fetch(url, init)
      .then(async (res) => {
        const text = await res.text();
        let data: unknown = text;
        try {
          data = text ? JSON.parse(text) : undefined;
        } catch {
          /* not JSON: keep the text */
        }
        const response = {
          data: data as T,
          status: res.status,
          statusText: res.statusText,
          ok: res.ok,
          headers: res.headers,
          redirected: res.redirected,
          type: res.type,
          url: res.url,
          config: options,
        };
        if (!res.ok) {
          subscriber.error({ status: res.status, statusText: res.statusText, data, config: options });
          return;
        }
        subscriber.next(response);
        subscriber.complete();
      })
      .catch((err) =>
        subscriber.error({ status: 502, statusText: String(err), data: { message: String(err) }, config: options })
      );
  });
}

setBackendSrv({ fetch: fetchObservable } as unknown as BackendSrv);
// Dashboard variables: the host's dashboards have none, so text comes back as it went.
setTemplateSrv({ replace: (text?: string) => text ?? '', getVariables: () => [] } as unknown as TemplateSrv);

// ---- the modules Grafana shares with plugins --------------------------------------------

const shared: Record<string, unknown> = {
  react: React,
  'react-dom': ReactDOM,
  'react/jsx-runtime': jsxRuntime,
  'react-router': ReactRouter,
  rxjs,
  '@emotion/css': emotionCss,
  '@grafana/data': grafanaData,
  '@grafana/ui': grafanaUi,
  // Grafana installs its page chrome with setPluginPage; the host gives a plain header.
  '@grafana/runtime': { ...grafanaRuntime, PluginPage: PluginPageStub },
};

/** Loads an AMD module the way Grafana's SystemJS loader does for plugins (one at a time). */
function loadModule<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const define = (deps: string[], factory: (...mods: unknown[]) => unknown) => {
      try {
        const missing = deps.filter((d) => d !== 'module' && !(d in shared));
        if (missing.length) {
          throw new Error(`the plugin needs modules Grafana does not share: ${missing.join(', ')}`);
        }
        resolve(factory(...deps.map((d) => (d === 'module' ? { uri: url } : shared[d]))) as T);
      } catch (e) {
        reject(e);
      }
    };
    (define as unknown as { amd: boolean }).amd = true;
    (window as unknown as { define: unknown }).define = define;
    const script = document.createElement('script');
    script.src = url;
    script.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.appendChild(script);
  });
}

const loadPlugin = () => loadModule<{ plugin: AppPlugin }>(MODULE_URL);

// ---- the page ----------------------------------------------------------------------------

const theme = createTheme({
  colors: { mode: new URLSearchParams(window.location.search).get('theme') === 'light' ? 'light' : 'dark' },
});
const NAV = ['tasks', 'workers', 'queues', 'audit', 'settings'];

function Shell({ plugin }: { plugin: AppPlugin }) {
  const Root = plugin.root!;
  const meta = {
    id: PLUGIN_ID,
    name: 'z4j',
    type: 'app',
    enabled: true,
    jsonData: {},
  } as unknown as grafanaData.AppPluginMeta;
  return (
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <div style={{ display: 'grid', gridTemplateColumns: '180px 1fr', minHeight: '100vh' }}>
        <nav
          aria-label="Grafana navigation"
          style={{ padding: 16, borderRight: `1px solid ${theme.colors.border.weak}` }}
        >
          {NAV.map((p) => (
            <div key={p} style={{ padding: '4px 0' }}>
              <a href={`/a/${PLUGIN_ID}/${p}`}>{p[0]!.toUpperCase() + p.slice(1)}</a>
            </div>
          ))}
          <div style={{ padding: '12px 0 4px' }}>
            <a href="/explore">Explore</a>
          </div>
          <div style={{ marginTop: 24, color: theme.colors.text.secondary }} data-testid="signed-in-as">
            {document.cookie.match(/z4j_user=(\w+)/)?.[1] ?? 'admin'}
          </div>
        </nav>
        <div style={{ padding: 24, minWidth: 0 }}>
          <Routes>
            <Route path={`/plugins/${PLUGIN_ID}`} element={<ConfigPage plugin={plugin} />} />
            <Route path="/explore" element={<ExplorePage />} />
            <Route
              path={`/a/${PLUGIN_ID}/*`}
              element={
                <Root
                  meta={meta}
                  basename={`/a/${PLUGIN_ID}`}
                  query={{}}
                  path={`/a/${PLUGIN_ID}`}
                  onNavChanged={() => undefined}
                />
              }
            />
          </Routes>
        </div>
      </div>
    </ThemeContext.Provider>
  );
}

/** Administration → Plugins → z4j: the app's config page, with the settings Grafana stores. */
function ConfigPage({ plugin }: { plugin: AppPlugin }) {
  const [ready, setReady] = React.useState(false);
  React.useEffect(() => {
    fetch(`/api/plugins/${PLUGIN_ID}/settings`)
      .then((r) => r.json())
      .then((settings) => {
        plugin.meta = { ...plugin.meta, ...settings, id: PLUGIN_ID, name: 'z4j', type: 'app' } as never;
        setReady(true);
      });
  }, [plugin]);
  const Body = plugin.configPages?.[0]?.body;
  return ready && Body ? <Body plugin={plugin} query={{}} /> : null;
}

/**
 * Explore, reduced: the z4j trends data source (the app's nested plugin, loaded from its own
 * module.js as Grafana loads it) with its query editor, run over the last hour, and what the
 * query answered as a table (Grafana would draw it; the test reads it).
 */
function ExplorePage() {
  const [ds, setDs] = React.useState<grafanaData.DataSourceApi<TrendQuery> | null>(null);
  const [Editor, setEditor] = React.useState<React.ComponentType<any> | null>(null);
  const [query, setQuery] = React.useState<TrendQuery>({ refId: 'A' });
  const [answer, setAnswer] = React.useState<grafanaData.DataQueryResponse | null>(null);
  const [failure, setFailure] = React.useState<string | null>(null);
  React.useEffect(() => {
    loadModule<{ plugin: grafanaData.DataSourcePlugin<grafanaData.DataSourceApi<TrendQuery>> }>(DATASOURCE_MODULE_URL)
      .then(({ plugin }) => {
        const settings = {
          id: 1,
          uid: 'z4j-trends',
          type: DATASOURCE_ID,
          name: 'z4j trends',
          jsonData: {},
          meta: plugin.meta,
        };
        const instance = new plugin.DataSourceClass(settings as never);
        setQuery({ refId: 'A', ...(instance.getDefaultQuery?.(grafanaData.CoreApp.Explore) ?? {}) });
        setDs(instance);
        setEditor(() => plugin.components.QueryEditor!);
      })
      .catch((e: Error) => setFailure(`Data source failed to load: ${e.message}`));
  }, []);
  const run = async () => {
    const to = grafanaData.dateTime();
    const from = grafanaData.dateTime(to.valueOf() - 3_600_000);
    const request = {
      targets: [query],
      range: { from, to, raw: { from: 'now-1h', to: 'now' } },
      intervalMs: 60_000,
      maxDataPoints: 60,
      scopedVars: {},
    } as unknown as grafanaData.DataQueryRequest<TrendQuery>;
    setAnswer(await rxjs.lastValueFrom(rxjs.from(ds!.query(request))));
  };
  if (failure) {
    return <div role="alert">{failure}</div>;
  }
  if (!ds || !Editor) {
    return null;
  }
  return (
    <main>
      <h1>Explore: z4j trends</h1>
      <Editor query={query} onChange={setQuery} onRunQuery={() => undefined} datasource={ds} />
      <div style={{ margin: '16px 0' }}>
        <grafanaUi.Button onClick={run}>Run query</grafanaUi.Button>
      </div>
      {answer?.errors?.map((e) => (
        <div role="alert" key={e.refId}>
          {e.message}
        </div>
      ))}
      {answer && (
        <table aria-label="Query result">
          <thead>
            <tr>
              <th>Series</th>
              <th>Points</th>
              <th>Sum</th>
              <th>Unit</th>
            </tr>
          </thead>
          <tbody>
            {answer.data.map((frame: grafanaData.DataFrame, i: number) => {
              const values = (frame.fields[1]?.values ?? []) as Array<number | null>;
              return (
                <tr key={i}>
                  <td>{frame.name ?? frame.refId}</td>
                  <td>{values.length}</td>
                  <td>{values.reduce<number>((a, v) => a + (v ?? 0), 0)}</td>
                  <td>{frame.fields[1]?.config.unit ?? ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}

// Grafana turns clicks on same-origin links into client-side navigation.
document.addEventListener('click', (e) => {
  const a = (e.target as HTMLElement).closest?.('a');
  const href = a?.getAttribute('href');
  if (!a || !href || a.target || e.defaultPrevented || e.metaKey || e.ctrlKey || e.button !== 0) {
    return;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#')) {
    return; // another site, or an anchor: the browser's
  }
  // As Grafana does: an href without a leading slash is taken from the root ("?tab=x" → "/?tab=x").
  e.preventDefault();
  locationService.push(href.startsWith('/') ? href : `/${href}`);
});

/**
 * A react-router v6 router on Grafana's location service (history v4, whose listen() passes
 * the location itself; v6's HistoryRouter expects v5's {action, location}).
 */
function GrafanaRouter({ children }: { children: React.ReactNode }) {
  const history = locationService.getHistory();
  const [location, setLocation] = React.useState(history.location);
  React.useLayoutEffect(() => history.listen((next: typeof history.location) => setLocation(next)), [history]);
  return (
    <Router location={location} navigator={history as never}>
      {children}
    </Router>
  );
}

loadPlugin()
  .then(({ plugin }) => {
    createRoot(document.getElementById('root')!).render(
      <GrafanaRouter>
        <Shell plugin={plugin} />
      </GrafanaRouter>
    );
  })
  .catch((e) => {
    document.getElementById('root')!.textContent = `Plugin failed to load: ${e.message}`;
  });
