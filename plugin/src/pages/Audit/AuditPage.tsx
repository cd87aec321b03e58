// The project's audit log: who did what to what, when, from where, and whether it worked,
// with the hash chain's verification status (an edited or deleted row shows here). Project
// Admins only, as on the service.
import React, { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { useTimeZone } from '../../hooks/useTimeZone';
import { Alert, Badge, Button, Field, Combobox, Stack, Text, TimeRangePicker } from '@grafana/ui';
import { fromTimeRange, shiftRange, toTimeRange, zoomOutRange } from '../Tasks/filters';
import type { AuditEntry } from '../../api/types';
import { AppPage } from '../../components/common/AppPage';
import { CommitInput } from '../../components/common/CommitInput';
import { DataTable } from '../../components/common/DataTable';
import { LoadOlder } from '../../components/common/LoadOlder';
import { Empty, LoadError, Loading } from '../../components/common/PageState';
import { useAuditLog, useAuditVerification, type AuditFilters } from '../../data/useAuditLog';
import { useSession } from '../../hooks/useSession';
import { formatTime } from '../../utils/format';

const FIELDS = ['actor', 'action', 'target'] as const;
const OUTCOMES = [
  { label: 'Any outcome', value: '' },
  { label: 'ok', value: 'ok' },
  { label: 'refused', value: 'refused' },
  { label: 'error', value: 'error' },
];

function AuditPage() {
  const { allows, loading, me } = useSession();
  return (
    <AppPage>
      {!me && loading ? (
        <Loading />
      ) : allows('admin') ? (
        <AuditLog />
      ) : (
        <Alert severity="info" title="The audit log is for project Admins">
          You are {me?.role ?? 'not a member'} in {me?.project.name ?? 'this project'}. Ask a project Admin or Owner.
        </Alert>
      )}
    </AppPage>
  );
}

function AuditLog() {
  const { project } = useSession();
  const [params, setParams] = useSearchParams();
  const filters = useMemo<AuditFilters>(
    () => ({
      actor: params.get('actor') ?? '',
      action: params.get('action') ?? '',
      target: params.get('target') ?? '',
      outcome: params.get('outcome') ?? '',
      from: params.get('from') ?? 'now-7d',
      to: params.get('to') ?? 'now',
    }),
    [params]
  );
  const { timeZone, setTimeZone } = useTimeZone();
  const range = toTimeRange(filters, timeZone);
  const verification = useAuditVerification(project);
  const entries = useAuditLog(filters, project, timeZone);

  const setRange = (t: { from: string; to: string }) => {
    const next = new URLSearchParams(params);
    next.set('from', t.from);
    next.set('to', t.to);
    setParams(next);
  };
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    v ? next.set(k, v) : next.delete(k);
    setParams(next);
  };

  const v = verification.value;
  return (
    <>
      {verification.error && (
        <LoadError error={verification.error} what="the audit chain's verification" onRetry={verification.reload} />
      )}
      {v && (
        <Alert
          severity={v.ok ? 'success' : 'error'}
          title={
            v.ok
              ? `Audit chain verified: ${v.checked} ${v.checked === 1 ? 'entry' : 'entries'} intact`
              : 'Audit chain broken'
          }
        >
          {v.ok
            ? 'No entry was edited, reordered or removed since it was written.'
            : `${v.firstBroken?.reason ?? ''} (entry ${v.firstBroken?.seq ?? '?'})`}
        </Alert>
      )}
      <Stack gap={1} wrap="wrap" alignItems="flex-end">
        {FIELDS.map((k) => (
          <Field key={k} label={k[0]!.toUpperCase() + k.slice(1)}>
            <CommitInput
              id={`audit-${k}`}
              value={filters[k] || undefined}
              width={24}
              onCommit={(v) => set(k, v ?? '')}
            />
          </Field>
        ))}
        <Field label="Time range">
          <TimeRangePicker
            value={range}
            timeZone={timeZone}
            onChange={(r) => setRange(fromTimeRange(r))}
            onChangeTimeZone={setTimeZone}
            onMoveBackward={() => setRange(shiftRange(range, -1))}
            onMoveForward={() => setRange(shiftRange(range, 1))}
            onZoom={() => setRange(zoomOutRange(range))}
          />
        </Field>
        <Field label="Outcome">
          <Combobox
            id="audit-outcome"
            width={20}
            options={OUTCOMES}
            value={filters.outcome}
            onChange={(o) => set('outcome', o.value)}
          />
        </Field>
      </Stack>
      {entries.error && <LoadError error={entries.error} what="the audit log" onRetry={entries.reload} />}
      {entries.loading && !entries.value && <Loading text="Loading the audit log…" />}
      {entries.value?.length === 0 && !entries.error && <Empty message="No audit entry matches" />}
      {entries.value && entries.value.length > 0 && (
        <DataTable
          label="Audit log"
          rows={entries.value}
          rowKey={(e) => e.id}
          columns={[
            { header: 'Time', cell: (e) => formatTime(e.at) },
            { header: 'Actor', cell: (e) => e.actorName ?? e.actorId ?? e.actorKind },
            { header: 'Action', cell: (e) => e.action },
            { header: 'Target', cell: (e) => e.target ?? '—' },
            {
              header: 'Outcome',
              cell: (e) => (
                <Badge
                  text={e.outcome}
                  color={e.outcome === 'ok' ? 'green' : e.outcome === 'refused' ? 'orange' : 'red'}
                />
              ),
            },
            { header: 'From', cell: (e) => <AuditFrom entry={e} /> },
            { header: 'Detail', cell: (e) => <AuditDetail detail={e.detail} />, wrap: true },
          ]}
        />
      )}
      {entries.value && <LoadOlder list={entries} what="entries" />}
    </>
  );
}

export default AuditPage;

/**
 * Where a request came from: the user's address (the first of X-Forwarded-For), then the proxy
 * it reached the service through (Grafana), which alone is the same for everyone.
 */
function AuditFrom({ entry }: { entry: AuditEntry }) {
  const client = entry.forwardedFor?.split(',')[0]?.trim();
  if (!client) {
    return <>{entry.ip ?? '—'}</>;
  }
  return (
    <span title={`X-Forwarded-For: ${entry.forwardedFor}`}>
      {client}
      {entry.ip && entry.ip !== client && <Text color="secondary"> via {entry.ip}</Text>}
    </span>
  );
}

const DETAIL_VALUE_CHARS = 120;

/**
 * An entry's detail as "key: value" pairs that wrap within the column; the whole JSON on hover.
 * A value cut to fit has a "Show all" button beside it: a hover is no way in for a keyboard or a
 * screen reader.
 */
function AuditDetail({ detail }: { detail: Record<string, unknown> | null | undefined }) {
  const [whole, setWhole] = useState(false);
  const entries = Object.entries(detail ?? {});
  if (!entries.length) {
    return <>—</>;
  }
  const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  const cut = !whole && entries.some(([, v]) => text(v).length > DETAIL_VALUE_CHARS);
  const clip = (s: string) => (!whole && s.length > DETAIL_VALUE_CHARS ? `${s.slice(0, DETAIL_VALUE_CHARS - 1)}…` : s);
  return (
    <span title={JSON.stringify(detail, null, 2)}>
      {entries.map(([k, v], i) => (
        <React.Fragment key={k}>
          {i > 0 && ' · '}
          <Text color="secondary">{k}</Text> {clip(text(v))}
        </React.Fragment>
      ))}
      {cut && (
        <>
          {' '}
          <Button size="sm" fill="text" onClick={() => setWhole(true)}>
            Show all
          </Button>
        </>
      )}
    </span>
  );
}
