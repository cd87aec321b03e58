// The project's audit log: who did what to what, when, from where, and whether it worked,
// with the hash chain's verification status (an edited or deleted row shows here).
import React, { useEffect, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { PluginPage } from '@grafana/runtime';
import { Alert, Badge, Button, Field, Input, Combobox, Stack, TimeRangePicker } from '@grafana/ui';
import { fromTimeRange, shiftRange, toTimeRange, zoomOutRange } from '../Tasks/filters';
import { listAudit, verifyAudit } from '../../api/service';
import type { AuditEntry } from '../../api/types';
import { toApiRequestError, type ApiRequestError } from '../../api/client';
import { DataTable } from '../../components/common/DataTable';
import { Empty, LoadError, Loading } from '../../components/common/PageState';
import { useAsync } from '../../hooks/useAsync';
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
  const { project } = useSession();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(
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
  const range = toTimeRange(filters);
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiRequestError | null>(null);
  const [loading, setLoading] = useState(true);
  const verification = useAsync(() => verifyAudit(project), [project]);

  const load = async (after: string | null) => {
    setLoading(true);
    setError(null);
    try {
      const page = await listAudit({
        ...filters,
        from: range.from.valueOf(),
        to: range.to.valueOf(),
        project,
        limit: 100,
        cursor: after,
      });
      setEntries((prev) => (after ? [...prev, ...page.entries] : page.entries));
      setCursor(page.nextCursor);
    } catch (e) {
      setError(toApiRequestError(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    // New filters start a request; its first setState marks the list as loading.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filters, project]);

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
    <PluginPage>
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
            <Input
              id={`audit-${k}`}
              defaultValue={filters[k]}
              width={24}
              onBlur={(e) => set(k, e.currentTarget.value.trim())}
              onKeyDown={(e) => e.key === 'Enter' && set(k, e.currentTarget.value.trim())}
            />
          </Field>
        ))}
        <Field label="Time range">
          <TimeRangePicker
            value={range}
            onChange={(r) => setRange(fromTimeRange(r))}
            onChangeTimeZone={() => undefined}
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
      {error && <LoadError error={error} what="the audit log" onRetry={() => load(null)} />}
      {loading && entries.length === 0 && !error && <Loading text="Loading the audit log…" />}
      {!loading && !error && entries.length === 0 && <Empty message="No audit entry matches" />}
      {entries.length > 0 && (
        <DataTable
          label="Audit log"
          rows={entries}
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
            { header: 'From', cell: (e) => e.ip ?? '—' },
            { header: 'Detail', cell: (e) => (e.detail ? <code>{JSON.stringify(e.detail).slice(0, 160)}</code> : '—') },
          ]}
        />
      )}
      {cursor && (
        <Button variant="secondary" onClick={() => load(cursor)} disabled={loading}>
          Load older entries
        </Button>
      )}
    </PluginPage>
  );
}

export default AuditPage;
