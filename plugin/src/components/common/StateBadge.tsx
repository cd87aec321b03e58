import React from 'react';
import type { GrafanaTheme2 } from '@grafana/data';
import { Badge, type BadgeColor, type IconName } from '@grafana/ui';

const LOOK: Record<string, { color: BadgeColor; icon: IconName }> = {
  enqueued: { color: 'blue', icon: 'clock-nine' },
  received: { color: 'blue', icon: 'arrow-down' },
  started: { color: 'orange', icon: 'sync' },
  succeeded: { color: 'green', icon: 'check' },
  failed: { color: 'red', icon: 'exclamation-triangle' },
  retried: { color: 'purple', icon: 'history' },
  revoked: { color: 'darkgrey', icon: 'ban' },
  rejected: { color: 'red', icon: 'times' },
  expired: { color: 'darkgrey', icon: 'hourglass' },
  // A schedule's runs: recorded, handed to the broker, taken by an agent (failed is a task's).
  sending: { color: 'orange', icon: 'clock-nine' },
  sent: { color: 'green', icon: 'arrow-right' },
  dispatched: { color: 'blue', icon: 'arrow-right' },
};

const UNKNOWN: { color: BadgeColor; icon: IconName } = { color: 'darkgrey', icon: 'question-circle' };

/** A state's colour in the theme, the badge's own, for places that are not badges (DAG nodes). */
export const stateColor = (theme: GrafanaTheme2, state: string): string =>
  theme.visualization.getColorByName((LOOK[state] ?? UNKNOWN).color);

export function StateBadge({ state }: { state: string }) {
  const look = LOOK[state] ?? UNKNOWN;
  return <Badge text={state} color={look.color} icon={look.icon} />;
}
