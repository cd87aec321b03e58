// A stand-in for Grafana's backend service in Jest: requests are answered by handlers keyed
// by "METHOD url" and recorded, so tests can assert on what the user sees and on what was sent.
import { NEVER, Observable, of, throwError } from 'rxjs';
import {
  getBackendSrv,
  setBackendSrv,
  type BackendSrv,
  type BackendSrvRequest,
  type FetchError,
  type FetchResponse,
} from '@grafana/runtime';

export interface FakeReply<T = unknown> {
  status: number;
  data: T;
}

/** A reply whose body is checked against the response type: `reply<ServiceHealth>({...})`. */
export function reply<T>(data: T, status = 200): FakeReply<T> {
  return { status, data };
}

/** Keyset paging, as the service does: the cursor names the last row of the page before. */
export function pageOf<T extends { id: string }>(rows: T[], params: Record<string, unknown> = {}) {
  const after = typeof params.cursor === 'string' ? rows.findIndex((r) => r.id === params.cursor) + 1 : 0;
  const page = rows.slice(after, after + (Number(params.limit) || 50));
  return { page, nextCursor: after + page.length < rows.length ? page.at(-1)!.id : null };
}

export type FakeRoutes = Record<string, (request: BackendSrvRequest) => FakeReply>;

export interface FakeBackend {
  /** Every request sent, in order. */
  requests: BackendSrvRequest[];
}

/** Installs a fake backend service for the current test and returns its request log. */
export function setupBackend(routes: FakeRoutes): FakeBackend {
  const requests: BackendSrvRequest[] = [];

  const fetch = <T>(request: BackendSrvRequest): Observable<FetchResponse<T>> => {
    requests.push(request);
    const key = `${(request.method ?? 'GET').toUpperCase()} ${request.url}`;
    const handler = routes[key];
    const { status, data } = handler ? handler(request) : reply({ message: `No fake handler for ${key}` }, 404);
    if (status >= 400) {
      const error: FetchError = { status, statusText: '', data, config: request };
      return throwError(() => error);
    }
    return of({
      data: data as T,
      status,
      statusText: 'OK',
      ok: true,
      headers: {} as Headers,
      redirected: false,
      type: 'basic',
      url: request.url,
      config: request,
    });
  };

  setBackendSrv({ fetch } as unknown as BackendSrv);
  return { requests };
}

/**
 * A service under load: requests `slow` picks are sent but never answered; the others go to the
 * backend installed before. Counts the slow ones sent.
 */
export function hangRequests(slow: (request: BackendSrvRequest) => boolean): { sent: number } {
  const service = getBackendSrv();
  const hung = { sent: 0 };
  const fetch = (request: BackendSrvRequest) => {
    if (!slow(request)) {
      return service.fetch(request);
    }
    hung.sent++;
    return NEVER;
  };
  setBackendSrv({ fetch } as unknown as BackendSrv);
  return hung;
}
