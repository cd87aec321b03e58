// Remote control of one worker: every control action its engine declares (pool size,
// autoscale, rate and time limits, consumed queues), each with the arguments it needs.
import React, { useState } from 'react';
import { Button, Field, Input, Label, Modal, Stack, RadioButtonList } from '@grafana/ui';
import { newIdempotencyKey, runWorkerAction } from '../../api/service';
import type { Command, Worker } from '../../api/types';
import { CommandOutcome } from '../../components/common/ActionButton';
import { Refused } from '../../components/common/PageState';
import { useGuard } from '../../hooks/useGuard';
import { useSession } from '../../hooks/useSession';

type ArgName = 'n' | 'max' | 'min' | 'taskName' | 'rateLimit' | 'soft' | 'hard' | 'queue';

const ACTIONS: Array<{ action: string; label: string; args: ArgName[] }> = [
  { action: 'pool_grow', label: 'Grow the pool', args: ['n'] },
  { action: 'pool_shrink', label: 'Shrink the pool', args: ['n'] },
  { action: 'autoscale', label: 'Set autoscale bounds', args: ['max', 'min'] },
  { action: 'rate_limit', label: "Set a task's rate limit", args: ['taskName', 'rateLimit'] },
  { action: 'time_limit', label: "Set a task's time limits", args: ['taskName', 'soft', 'hard'] },
  { action: 'add_consumer', label: 'Start consuming a queue', args: ['queue'] },
  { action: 'cancel_consumer', label: 'Stop consuming a queue', args: ['queue'] },
];

const ARG_LABELS: Record<ArgName, { label: string; placeholder: string; numeric: boolean }> = {
  n: { label: 'Processes', placeholder: '1', numeric: true },
  max: { label: 'Maximum', placeholder: '8', numeric: true },
  min: { label: 'Minimum', placeholder: '2', numeric: true },
  taskName: { label: 'Task name', placeholder: 'billing.charge', numeric: false },
  rateLimit: { label: 'Rate limit', placeholder: '10/m', numeric: false },
  soft: { label: 'Soft limit (s)', placeholder: '60', numeric: true },
  hard: { label: 'Hard limit (s)', placeholder: '120', numeric: true },
  queue: { label: 'Queue', placeholder: 'emails', numeric: false },
};

/** The control actions this worker's engine can do, or none. */
export function controlActionsFor(can: (engine: string, cap: string) => boolean, engine: string) {
  return ACTIONS.filter((a) => can(engine, `worker.${a.action}`));
}

export function WorkerControlModal({ worker, onClose }: { worker: Worker; onClose: () => void }) {
  const { can, project } = useSession();
  const actions = controlActionsFor(can, worker.engine);
  const [action, setAction] = useState(actions[0]?.action ?? '');
  const [values, setValues] = useState<Partial<Record<ArgName, string>>>({});
  const [key, setKey] = useState(newIdempotencyKey);
  const [command, setCommand] = useState<Command | null>(null);
  const { busy, error, guard } = useGuard();
  const chosen = actions.find((a) => a.action === action);

  const args = () => {
    const out: Record<string, unknown> = {};
    for (const name of chosen?.args ?? []) {
      const raw = values[name]?.trim();
      if (raw) {
        out[name] = ARG_LABELS[name].numeric ? Number(raw) : raw;
      }
    }
    return out;
  };

  return (
    <Modal title={`Control ${worker.hostname}`} isOpen onDismiss={onClose}>
      <Stack direction="column" gap={1}>
        {/* A label cannot point at a radio group: the group names itself after the label instead. */}
        <Field label={<Label id="worker-action-label">Action</Label>}>
          <div role="group" aria-labelledby="worker-action-label">
            <RadioButtonList
              name="worker-action"
              options={actions.map((a) => ({ label: a.label, value: a.action }))}
              value={action}
              onChange={(value) => {
                setAction(value);
                setKey(newIdempotencyKey());
                setCommand(null);
              }}
            />
          </div>
        </Field>
        {chosen?.args.map((name) => (
          <Field key={name} label={ARG_LABELS[name].label}>
            <Input
              id={`worker-arg-${name}`}
              type={ARG_LABELS[name].numeric ? 'number' : 'text'}
              placeholder={ARG_LABELS[name].placeholder}
              value={values[name] ?? ''}
              onChange={(e) => setValues({ ...values, [name]: e.currentTarget.value })}
            />
          </Field>
        ))}
        {command && <CommandOutcome command={command} label={chosen?.label ?? action} />}
        <Refused title="Refused" error={error} />
      </Stack>
      <Modal.ButtonRow>
        <Button variant="secondary" onClick={onClose}>
          Close
        </Button>
        <Button
          disabled={busy || !chosen}
          onClick={() =>
            guard(async () => {
              setCommand((await runWorkerAction(worker.engine, worker.hostname, action, args(), key, project)).command);
              setKey(newIdempotencyKey());
            })
          }
        >
          Send to the worker
        </Button>
      </Modal.ButtonRow>
    </Modal>
  );
}
