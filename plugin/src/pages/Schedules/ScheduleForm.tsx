// A new schedule, or changes to one, in a drawer (project Admins). A refusal is said by the field
// it is about, and nothing typed is lost. On edit, args and kwargs are the redacted display copy:
// they are sent only when the user changed them, else the exact call z4j keeps sealed stays.
import React, { useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import {
  Alert,
  Button,
  Combobox,
  Drawer,
  Field,
  Input,
  Label,
  RadioButtonGroup,
  Stack,
  Switch,
  Text,
  TextArea,
  useStyles2,
  type ComboboxOption,
} from '@grafana/ui';
import { toApiRequestError, type ApiRequestError } from '../../api/client';
import { createSchedule, getSchedule, listTaskNames, updateSchedule } from '../../api/service';
import type { Engine, NewSchedule, Schedule, ScheduleChanges } from '../../api/types';
import { LoadError, Loading } from '../../components/common/PageState';
import { useAsync } from '../../hooks/useAsync';
import { useSession } from '../../hooks/useSession';
import { CronFields } from './CronFields';

/** The fields a refusal of the service can be about. */
type Refusable = 'name' | 'engine' | 'taskName' | 'cron' | 'timezone';

interface Draft {
  name: string;
  engine: Engine | '';
  taskName: string;
  queue: string;
  args: string;
  kwargs: string;
  cron: string;
  timezone: string;
  enabled: boolean;
}

/** The field a refusal of the service is about (the others are said above the buttons). */
const FIELD_OF: Record<string, Refusable> = {
  SCHEDULE_NAME_TAKEN: 'name',
  ENGINE_NOT_CONFIGURED: 'engine',
  ENGINE_CANNOT_SEND: 'engine',
  INVALID_CRON: 'cron',
  UNKNOWN_TIMEZONE: 'timezone',
  UNKNOWN_TASK: 'taskName',
};

/**
 * What the service's redactor puts in the display copy in place of a value: one that looks
 * secret, or what it cut (too deep, too many items or keys, too long, a cycle). Saved as is, the
 * placeholder itself would be sent.
 */
const MASK = /\[redacted\]|\[depth limit\]|\[cycle\]|\[\d+ more items\]|\[more keys\]|\[\d+ more chars\]/i;

/** Short JSON on one line, longer JSON indented. */
const jsonText = (value: unknown) => {
  const line = JSON.stringify(value);
  return line.length <= 60 ? line : JSON.stringify(value, null, 2);
};

function parseJson(text: string, shape: 'array' | 'object'): { value?: unknown; error?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === '' ? (shape === 'array' ? '[]' : '{}') : text);
  } catch (e) {
    return { error: `Not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  const fits =
    shape === 'array' ? Array.isArray(value) : typeof value === 'object' && value !== null && !Array.isArray(value);
  return fits
    ? { value }
    : {
        error:
          shape === 'array' ? 'Must be a JSON array, like [1, "eu"]' : 'Must be a JSON object, like {"day": "today"}',
      };
}

const draftOf = (s: Schedule | undefined): Draft => ({
  name: s?.name ?? '',
  engine: s?.engine ?? '',
  taskName: s?.taskName ?? '',
  queue: s?.queue ?? '',
  args: jsonText(s?.args ?? []),
  kwargs: jsonText(s?.kwargs ?? {}),
  cron: s?.cron ?? '',
  timezone: s?.timezone ?? 'UTC',
  enabled: s?.enabled ?? true,
});

/** The drawer: a new schedule (no id), or the one with `scheduleId` as the service has it now. */
export function ScheduleDrawer({
  scheduleId,
  onClose,
  onSaved,
}: {
  scheduleId?: string;
  onClose: () => void;
  onSaved: (schedule: Schedule) => void;
}) {
  const { project } = useSession();
  const stored = useAsync(
    () => (scheduleId ? getSchedule(scheduleId, project) : Promise.resolve(null)),
    [scheduleId, project]
  );
  const schedule = stored.value?.schedule;
  return (
    <Drawer
      title={scheduleId ? `Edit ${schedule?.name ?? 'schedule'}` : 'New schedule'}
      subtitle="z4j sends the task on the cron, the way a retry from z4j is sent: each run shows in the explorer."
      closeOnMaskClick={false}
      onClose={onClose}
    >
      {stored.error ? (
        <LoadError error={stored.error} what="the schedule" onRetry={stored.reload} />
      ) : stored.value === undefined ? (
        <Loading text="Loading the schedule…" />
      ) : (
        <ScheduleForm schedule={schedule} onCancel={onClose} onSaved={onSaved} />
      )}
    </Drawer>
  );
}

function ScheduleForm({
  schedule,
  onCancel,
  onSaved,
}: {
  schedule?: Schedule;
  onCancel: () => void;
  onSaved: (schedule: Schedule) => void;
}) {
  const styles = useStyles2(getStyles);
  const { project, sendable } = useSession();
  // Only engines the service can send a task with (a driver, configured, that sends a call).
  const engines = sendable ?? [];
  const [initial] = useState(() => draftOf(schedule));
  const [draft, setDraft] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<ApiRequestError | null>(null);
  const refusedField = refusal?.code ? FIELD_OF[refusal.code] : undefined;
  const set = (patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    // A refusal about a field is over once that field changes; one about the whole form stays.
    if (refusedField && refusedField in patch) {
      setRefusal(null);
    }
  };
  const refusedAt = (field: Refusable) =>
    refusedField === field ? (refusal?.serviceMessage ?? refusal?.message) : undefined;

  const args = parseJson(draft.args, 'array');
  const kwargs = parseJson(draft.kwargs, 'object');
  // Changed means another value, not another layout: the same value re-indented still keeps the sealed call.
  const changed = (field: 'args' | 'kwargs', parsed: { value?: unknown }) =>
    !schedule || JSON.stringify(parsed.value) !== JSON.stringify(schedule[field]);
  const argsChanged = changed('args', args);
  const kwargsChanged = changed('kwargs', kwargs);
  // The first engine until one is picked (the capabilities may arrive after the drawer opened).
  const engine = draft.engine || engines[0] || '';
  const incomplete = !draft.name.trim() || !engine || !draft.taskName.trim() || !draft.cron.trim();

  const loadNames = async (prefix: string): Promise<Array<ComboboxOption<string>>> => {
    const { names } = await listTaskNames(prefix, project);
    return names.map((n) => ({ value: n, label: n }));
  };

  const save = async () => {
    if (args.error || kwargs.error || incomplete) {
      return;
    }
    // The fields every schedule has, as they will be stored.
    const fields = {
      name: draft.name.trim(),
      taskName: draft.taskName.trim(),
      queue: draft.queue.trim() === '' ? null : draft.queue.trim(),
      cron: draft.cron.trim(),
      timezone: draft.timezone,
      enabled: draft.enabled,
    };
    setBusy(true);
    setRefusal(null);
    try {
      if (!schedule) {
        const body: NewSchedule = {
          ...fields,
          engine: engine as Engine,
          args: args.value as unknown[],
          kwargs: kwargs.value as Record<string, unknown>,
        };
        onSaved((await createSchedule(body, project)).schedule);
        return;
      }
      // Only what changed; args and kwargs only when the user changed them (else the sealed ones stay).
      const changes: ScheduleChanges = Object.fromEntries(
        Object.entries(fields).filter(([k, v]) => v !== schedule[k as keyof typeof fields])
      );
      if (argsChanged) {
        changes.args = args.value as unknown[];
      }
      if (kwargsChanged) {
        changes.kwargs = kwargs.value as Record<string, unknown>;
      }
      onSaved(Object.keys(changes).length ? (await updateSchedule(schedule.id, changes, project)).schedule : schedule);
    } catch (e) {
      setRefusal(toApiRequestError(e));
    } finally {
      setBusy(false);
    }
  };

  const jsonField = (field: 'args' | 'kwargs', label: string, parsed: { error?: string }, isChanged: boolean) => (
    <Field
      label={label}
      htmlFor={`schedule-${field}`}
      invalid={Boolean(parsed.error)}
      error={parsed.error}
      description={
        schedule
          ? isChanged
            ? 'Changed: saving replaces the stored ones whole.'
            : 'Shown redacted (values that look secret read [redacted]). Left as is, the exact ones z4j keeps sealed stay.'
          : undefined
      }
    >
      <>
        <TextArea
          id={`schedule-${field}`}
          className={styles.mono}
          rows={Math.min(8, Math.max(2, draft[field].split('\n').length))}
          value={draft[field]}
          onChange={(e) => set({ [field]: e.currentTarget.value })}
        />
        {schedule && isChanged && (
          <Stack gap={1} alignItems="center">
            {MASK.test(draft[field]) && (
              <Text color="warning" variant="bodySmall">
                Still holds {draft[field].match(MASK)![0]}: that text would be sent in place of what it stands for.
              </Text>
            )}
            <Button size="sm" fill="text" variant="secondary" onClick={() => set({ [field]: initial[field] })}>
              Keep the stored {field}
            </Button>
          </Stack>
        )}
      </>
    </Field>
  );

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <Field label="Name" invalid={Boolean(refusedAt('name'))} error={refusedAt('name')}>
        <Input
          id="schedule-name"
          value={draft.name}
          maxLength={200}
          placeholder="Close the day"
          onChange={(e) => set({ name: e.currentTarget.value })}
        />
      </Field>
      {/* A label cannot point at a radio group: the group names itself after the label instead. */}
      <Field
        label={
          // A Field draws its description only under a text label: this one carries its own.
          <Label
            id="schedule-engine-label"
            description={
              schedule
                ? 'A schedule keeps its engine: make a new one for another engine.'
                : engines.length === 0
                  ? 'This service has no engine it can send tasks with: no driver configured (or its capabilities could not be read).'
                  : 'The engines this service can send tasks with.'
            }
          >
            Engine
          </Label>
        }
        invalid={Boolean(refusedAt('engine'))}
        error={refusedAt('engine')}
      >
        {/* A fragment: Field would set `invalid` on a plain div. */}
        <>
          <div role="group" aria-labelledby="schedule-engine-label">
            <RadioButtonGroup
              options={(schedule ? [schedule.engine] : engines).map((e) => ({ label: e, value: e }))}
              value={engine}
              disabled={Boolean(schedule)}
              onChange={(engine) => set({ engine })}
            />
          </div>
        </>
      </Field>
      <Field
        label="Task name"
        description="The engine's name for the task, as workers register it."
        invalid={Boolean(refusedAt('taskName'))}
        error={refusedAt('taskName')}
      >
        <Combobox<string>
          id="schedule-task-name"
          placeholder="billing.tasks.close_day"
          options={loadNames}
          value={draft.taskName ? { value: draft.taskName, label: draft.taskName } : null}
          createCustomValue
          isClearable
          onChange={(o) => set({ taskName: o ? String(o.value) : '' })}
        />
      </Field>
      <Field label="Queue" description="Leave empty for the engine's default queue.">
        <Input
          id="schedule-queue"
          value={draft.queue}
          placeholder="default"
          onChange={(e) => set({ queue: e.currentTarget.value })}
        />
      </Field>
      {jsonField('args', 'Args (JSON array)', args, argsChanged)}
      {jsonField('kwargs', 'Kwargs (JSON object)', kwargs, kwargsChanged)}
      <CronFields
        cron={draft.cron}
        timezone={draft.timezone}
        onCron={(cron) => set({ cron })}
        onTimezone={(timezone) => set({ timezone })}
        refused={{ cron: refusedAt('cron'), timezone: refusedAt('timezone') }}
      />
      <Field label="Enabled" description="A disabled schedule keeps its settings and sends nothing.">
        <Switch
          id="schedule-enabled"
          value={draft.enabled}
          onChange={(e) => set({ enabled: e.currentTarget.checked })}
        />
      </Field>
      {refusal && !refusedField && (
        <Alert severity="error" title="The schedule was not saved" onRemove={() => setRefusal(null)}>
          {refusal.message}
        </Alert>
      )}
      <Stack gap={1}>
        <Button type="submit" disabled={busy || incomplete || Boolean(args.error || kwargs.error)}>
          {schedule ? 'Save changes' : 'Create schedule'}
        </Button>
        <Button variant="secondary" onClick={onCancel}>
          Cancel
        </Button>
      </Stack>
    </form>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  mono: css({ fontFamily: theme.typography.fontFamilyMonospace }),
});
