// Who reads this project through Grafana alert rules: the database roles of the "z4j alerting"
// data source (README, "Alerting"). Shown, not changed here: roles live on the database server,
// so `z4j alerting grant|revoke` on the service's machine changes them (and audits it).
import React from 'react';
import { Alert, Badge, ClipboardButton, Stack, Text } from '@grafana/ui';
import { listAlertingReaders } from '../../api/service';
import type { AlertingReader } from '../../api/types';
import { DataTable } from '../../components/common/DataTable';
import { pendingState, ReloadFailed } from '../../components/common/PageState';
import { useAsync } from '../../hooks/useAsync';
import { useSession } from '../../hooks/useSession';
import { formatTime } from '../../utils/format';

export function AlertingTab() {
  const { project, me } = useSession();
  const readers = useAsync(() => listAlertingReaders(project), [project]);
  const pending = pendingState(readers, 'the alerting readers');
  if (pending || !readers.value) {
    return pending;
  }
  const slug = me?.project.slug ?? project ?? 'default';
  const grant = `node backend/dist/cli.js alerting grant grafana_${slug.replace(/-/g, '_')} --project ${slug}`;
  return (
    <div>
      <ReloadFailed state={readers} what="the alerting readers" />
      <p>
        Grafana alert rules read this project&apos;s tasks, queues, workers and schedules through the &quot;z4j
        alerting&quot; data source: Grafana&apos;s PostgreSQL data source, logged in as a database role that may read
        the <code>z4j_alerting</code> views of the projects granted to it, and nothing else. The views hold task names,
        states and times, never arguments, results or exception messages, but anyone who may query that data source in
        Grafana sees them, whatever their role here.
      </p>
      {readers.value.storage === 'pglite' ? (
        <Alert severity="info" title="Alerting needs the service on PostgreSQL">
          This service keeps its data in embedded storage, which Grafana cannot connect to. Run it with{' '}
          <code>DATABASE_URL</code> set to a PostgreSQL database to give alert rules a data source.
        </Alert>
      ) : (
        <Stack direction="column" gap={2}>
          <DataTable<AlertingReader>
            label="Database roles that read this project"
            rows={readers.value.readers}
            rowKey={(r) => `${r.role}:${r.everyProject}`}
            emptyText="No database role reads this project: alert rules cannot see it."
            columns={[
              {
                header: 'Role',
                cell: (r) => (
                  <Stack gap={1} alignItems="center">
                    <code>{r.role}</code>
                    {r.roleMissing && (
                      <Badge
                        color="orange"
                        icon="exclamation-triangle"
                        text="role missing"
                        tooltip="The role no longer exists on the database server: this grant reads nothing. Revoke it, or create the role again."
                      />
                    )}
                  </Stack>
                ),
              },
              { header: 'Reads', cell: (r) => (r.everyProject ? 'every project' : 'this project') },
              { header: 'Granted', cell: (r) => formatTime(r.grantedAt) },
              { header: 'By', cell: (r) => r.grantedBy },
            ]}
          />
          <Stack direction="column" gap={1}>
            <Text element="p">
              To let a role read this project, run on the service&apos;s machine (with{' '}
              <code>Z4J_ALERTING_PASSWORD</code> set, the role is created when missing); <code>alerting revoke</code>{' '}
              takes a grant back. Both are recorded in the audit log.
            </Text>
            <pre data-testid="alerting-grant">{grant}</pre>
            <div>
              <ClipboardButton icon="copy" variant="secondary" size="sm" getText={() => grant}>
                Copy
              </ClipboardButton>
            </div>
          </Stack>
        </Stack>
      )}
    </div>
  );
}
