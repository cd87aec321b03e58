// The plugin's only HTTP client. It talks to the z4j service through Grafana's app plugin
// proxy (route `api/*` in plugin.json, which adds the proxy secret server-side), and to
// Grafana's own plugin settings API. Components and hooks call these functions, never fetch.
import { lastValueFrom } from 'rxjs';
import { getBackendSrv, isFetchError, type BackendSrvRequest } from '@grafana/runtime';
import { PLUGIN_ID } from '../constants';
import type { AppSecureSettings, AppSettings, ServiceErrorBody, ServiceHealth } from './types';

/** The service's `/api`, as the browser reaches it through the app's proxy route. */
export const SERVICE_API_URL = `/api/plugin-proxy/${PLUGIN_ID}/api`;

/** Grafana's endpoint for this app's enabled/pinned state, jsonData and secureJsonData. */
export const PLUGIN_SETTINGS_URL = `/api/plugins/${PLUGIN_ID}/settings`;

/** A failed request, with a message fit to show to the user. */
export class ApiRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
    /** The service's own message, without the status and code (for a form to show by its field). */
    readonly serviceMessage?: string
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export async function request<T>(options: BackendSrvRequest): Promise<T> {
  try {
    const response = await lastValueFrom(getBackendSrv().fetch<T>(options));
    return response.data;
  } catch (e) {
    throw toApiRequestError(e);
  }
}

/**
 * The service's version and storage. Failures are returned to the caller (no toast): the
 * config page shows them next to its "Test connection" button.
 */
export async function getServiceHealth(): Promise<ServiceHealth> {
  const health = await request<unknown>({ url: `${SERVICE_API_URL}/healthz`, method: 'GET', showErrorAlert: false });
  if (!isServiceHealth(health)) {
    throw new ApiRequestError(
      'The Service URL answered, but not like a z4j service. Check that it points at the z4j service.'
    );
  }
  return health;
}

export interface PluginSettingsUpdate {
  enabled?: boolean;
  pinned?: boolean;
  jsonData: AppSettings;
  /** Omit to keep the stored secrets unchanged. */
  secureJsonData?: AppSecureSettings;
}

/** Saves the app's settings. Grafana's backend service shows the success or error toast. */
export async function savePluginSettings(settings: PluginSettingsUpdate): Promise<void> {
  await request<unknown>({ url: PLUGIN_SETTINGS_URL, method: 'POST', data: settings });
}

/** Turns what getBackendSrv().fetch throws into one message the user can act on. */
export function toApiRequestError(e: unknown): ApiRequestError {
  if (e instanceof ApiRequestError) {
    return e;
  }
  if (isFetchError(e)) {
    const { status, data } = e;
    if (isServiceErrorBody(data)) {
      return new ApiRequestError(
        `The service answered ${status} ${data.error.code}: ${data.error.message}`,
        status,
        data.error.code,
        data.error.message
      );
    }
    const detail = typeof data?.message === 'string' && data.message !== '' ? data.message : e.statusText;
    if (status === 502 || status === 503 || status === 504) {
      return new ApiRequestError(
        `Grafana could not reach the service (HTTP ${status}${detail ? `: ${detail}` : ''}). ` +
          'Check the Service URL and that the service is running.',
        status
      );
    }
    return new ApiRequestError(`Request failed with HTTP ${status}${detail ? `: ${detail}` : ''}`, status);
  }
  return new ApiRequestError(e instanceof Error ? e.message : String(e));
}

function isServiceErrorBody(data: unknown): data is ServiceErrorBody {
  const error = (data as ServiceErrorBody | undefined)?.error;
  return (
    typeof error === 'object' && error !== null && typeof error.code === 'string' && typeof error.message === 'string'
  );
}

function isServiceHealth(data: unknown): data is ServiceHealth {
  const health = data as ServiceHealth | undefined;
  return (
    typeof health === 'object' &&
    health !== null &&
    typeof health.version === 'string' &&
    typeof health.storage === 'string'
  );
}
