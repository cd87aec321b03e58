// The app's config page (Administration → Plugins → z4j): where Grafana reaches the z4j
// service, the proxy secret it adds to every request, and a connection test.
import React, { FormEvent, useState } from 'react';
import { css } from '@emotion/css';
import { AppPluginMeta, dateTimeFormatTimeAgo, GrafanaTheme2, PluginConfigPageProps } from '@grafana/data';
import { Alert, Button, Field, FieldSet, Input, SecretInput, Stack, useStyles2 } from '@grafana/ui';
import { getServiceHealth, savePluginSettings, toApiRequestError } from '../../api/client';
import type { AppSettings } from '../../api/types';
import { DEFAULT_SERVICE_URL } from '../../constants';
import { reloadPage } from '../../utils/reloadPage';

export interface AppConfigProps extends PluginConfigPageProps<AppPluginMeta<AppSettings>> {}

type ConnectionTest =
  | { state: 'idle' }
  | { state: 'testing' }
  | { state: 'connected'; message: string; engines: string }
  | { state: 'failed'; message: string };

const AppConfig = ({ plugin }: AppConfigProps) => {
  const s = useStyles2(getStyles);
  const { enabled, pinned, jsonData, secureJsonFields } = plugin.meta;
  const [serviceUrl, setServiceUrl] = useState(jsonData?.serviceUrl ?? DEFAULT_SERVICE_URL);
  const [proxySecret, setProxySecret] = useState('');
  const [isProxySecretSet, setIsProxySecretSet] = useState(Boolean(secureJsonFields?.proxySecret));
  const [isSaving, setIsSaving] = useState(false);
  const [connection, setConnection] = useState<ConnectionTest>({ state: 'idle' });

  const serviceUrlError = validateServiceUrl(serviceUrl);
  const canSave = !serviceUrlError && (isProxySecretSet || proxySecret !== '') && !isSaving;

  const onSave = async (event: FormEvent) => {
    event.preventDefault();
    if (!canSave) {
      return;
    }
    setIsSaving(true);
    try {
      await savePluginSettings({
        enabled,
        pinned,
        jsonData: { ...jsonData, serviceUrl: serviceUrl.trim().replace(/\/+$/, '') },
        // Secrets cannot be read back: send one only when the admin typed a new value.
        secureJsonData: isProxySecretSet ? undefined : { proxySecret },
      });
      reloadPage();
    } catch {
      // Grafana's backend service has already shown the error toast; keep the form as typed.
      setIsSaving(false);
    }
  };

  const onTestConnection = async () => {
    setConnection({ state: 'testing' });
    try {
      const health = await getServiceHealth();
      setConnection({
        state: 'connected',
        message: `Connected: service ${health.version}, storage ${health.storage}`,
        engines: enginesReporting(health.engines ?? []),
      });
    } catch (e) {
      setConnection({ state: 'failed', message: toApiRequestError(e).message });
    }
  };

  return (
    <form onSubmit={onSave}>
      <FieldSet label="Connection to the z4j service">
        <Field
          label="Service URL"
          description="Where Grafana's server reaches the z4j service. Browsers never call it directly: every request goes through Grafana."
          invalid={Boolean(serviceUrlError)}
          error={serviceUrlError}
        >
          <Input
            width={60}
            id="config-service-url"
            name="serviceUrl"
            value={serviceUrl}
            placeholder={DEFAULT_SERVICE_URL}
            onChange={(event) => setServiceUrl(event.currentTarget.value)}
          />
        </Field>

        <Field
          label="Proxy secret"
          description="Shared secret Grafana adds to every request it forwards to the service; set the same value on the service. It cannot be read back once saved."
        >
          <SecretInput
            width={60}
            id="config-proxy-secret"
            name="proxySecret"
            value={proxySecret}
            isConfigured={isProxySecretSet}
            placeholder="The service's proxy secret"
            onChange={(event) => setProxySecret(event.currentTarget.value.trim())}
            onReset={() => {
              setProxySecret('');
              setIsProxySecretSet(false);
            }}
          />
        </Field>

        <Stack gap={1}>
          <Button type="submit" disabled={!canSave}>
            {isSaving ? 'Saving…' : 'Save settings'}
          </Button>
          <Button
            type="button"
            variant="secondary"
            icon={connection.state === 'testing' ? 'spinner' : undefined}
            disabled={connection.state === 'testing'}
            onClick={onTestConnection}
          >
            Test connection
          </Button>
        </Stack>
        <div className={s.hint}>The connection test uses the saved settings.</div>

        {connection.state === 'connected' && (
          <Alert className={s.result} severity="success" title={connection.message}>
            {connection.engines}
          </Alert>
        )}
        {connection.state === 'failed' && (
          <Alert className={s.result} severity="error" title="Connection failed">
            {connection.message}
          </Alert>
        )}
      </FieldSet>
    </form>
  );
};

export default AppConfig;

/** Which engines the service has heard from, and when last: what tells a user the wiring works. */
function enginesReporting(engines: Array<{ engine: string; lastSeenAt: string }>): string {
  if (engines.length === 0) {
    return 'No engine has reported yet: turn on Celery events (-E) or install the z4j agent in your workers.';
  }
  return `Engines reporting: ${engines.map((e) => `${e.engine} (last seen ${dateTimeFormatTimeAgo(e.lastSeenAt)})`).join(', ')}.`;
}

function validateServiceUrl(value: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed === '') {
    return 'The service URL is required.';
  }
  try {
    const url = new URL(trimmed);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return 'Use an http:// or https:// URL.';
    }
  } catch {
    return 'Enter a full URL, such as http://localhost:8080.';
  }
  return undefined;
}

const getStyles = (theme: GrafanaTheme2) => ({
  hint: css({
    marginTop: theme.spacing(1),
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  result: css({
    marginTop: theme.spacing(2),
    maxWidth: theme.spacing(60),
  }),
});
