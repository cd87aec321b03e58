// What an engine driver can do. Drivers declare these; the UI, the API's refusals and the
// README's capability matrix are all generated from the declarations, never written by hand.

export const TASK_ACTIONS = ['retry', 'cancel', 'terminate'] as const;
export type TaskAction = (typeof TASK_ACTIONS)[number];

export const QUEUE_ACTIONS = ['purge', 'purge_filtered', 'requeue_dead_letters'] as const;
export type QueueAction = (typeof QUEUE_ACTIONS)[number];

export const WORKER_ACTIONS = ['pool_grow', 'pool_shrink', 'autoscale', 'rate_limit', 'time_limit', 'add_consumer', 'cancel_consumer', 'shutdown'] as const;
export type WorkerAction = (typeof WORKER_ACTIONS)[number];

export type Capability = `task.${TaskAction}` | `queue.${QueueAction}` | `worker.${WorkerAction}`;

export const ALL_CAPABILITIES: readonly Capability[] = [
  ...TASK_ACTIONS.map((a) => `task.${a}` as const),
  ...QUEUE_ACTIONS.map((a) => `queue.${a}` as const),
  ...WORKER_ACTIONS.map((a) => `worker.${a}` as const),
];

/** How a driver does it: straight on the broker's open wire format, or through the agent in the worker. */
export interface CapabilityDeclaration {
  via: 'broker' | 'agent';
  /** What a user should know (limits, conditions), shown next to the action. */
  note?: string;
}

export const CAPABILITY_LABELS: Record<Capability, string> = {
  'task.retry': 'Retry a finished task with its original payload',
  'task.cancel': 'Cancel a task that has not started',
  'task.terminate': 'Terminate a running task',
  'queue.purge': 'Purge a queue',
  'queue.purge_filtered': 'Purge only matching tasks (by task name)',
  'queue.requeue_dead_letters': 'Requeue dead letters (failed jobs)',
  'worker.pool_grow': 'Grow the worker pool',
  'worker.pool_shrink': 'Shrink the worker pool',
  'worker.autoscale': 'Set autoscale bounds',
  'worker.rate_limit': "Set a task's rate limit",
  'worker.time_limit': "Set a task's time limits",
  'worker.add_consumer': 'Start consuming a queue',
  'worker.cancel_consumer': 'Stop consuming a queue',
  'worker.shutdown': 'Shut the worker down',
};
