import React from 'react';
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
};

/** The theme colour of a state, for places that are not badges (DAG nodes). */
export const STATE_COLOR: Record<string, string> = {
  enqueued: '#5794F2',
  received: '#5794F2',
  started: '#FF9830',
  succeeded: '#73BF69',
  failed: '#F2495C',
  retried: '#B877D9',
  revoked: '#8E8E8E',
  rejected: '#F2495C',
  expired: '#8E8E8E',
};

export function StateBadge({ state }: { state: string }) {
  const look = LOOK[state] ?? { color: 'darkgrey' as BadgeColor, icon: 'question-circle' as IconName };
  return <Badge text={state} color={look.color} icon={look.icon} />;
}
