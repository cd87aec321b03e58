import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { TextLink, Tooltip, useStyles2 } from '@grafana/ui';
import type { Task } from '../../api/types';
import { StateBadge } from '../../components/common/StateBadge';
import { inProject, taskUrl } from '../../constants';
import { formatDuration, formatTime } from '../../utils/format';
import { getTableStyles } from '../../components/common/DataTable';

/** The explorer's rows. Each task id is a link, so rows open with a click, Enter, or in a new tab. */
export function TaskTable({ tasks, project }: { tasks: Task[]; project?: string }) {
  const styles = useStyles2(getStyles);
  return (
    <div className={styles.scroll}>
      <table className={styles.table} aria-label="Tasks">
        <thead>
          <tr>
            <th>State</th>
            <th>Task</th>
            <th>Engine</th>
            <th>Queue</th>
            <th>Worker</th>
            <th>Seen</th>
            <th className={styles.num}>Wait</th>
            <th className={styles.num}>Runtime</th>
            <th className={styles.num}>Retries</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => (
            <tr key={`${t.engine}/${t.taskId}`} data-testid="task-row">
              <td>
                <StateBadge state={t.state} />
              </td>
              <td className={styles.task}>
                <TextLink href={inProject(taskUrl(t.engine, t.taskId), project)} inline={false}>
                  {t.name ?? '(unnamed)'}
                </TextLink>
                <div className={styles.id}>
                  {t.taskId}
                  {t.exception && (
                    <Tooltip content={t.exception}>
                      <span className={styles.exception}> · {t.exception.split('\n')[0]!.slice(0, 80)}</span>
                    </Tooltip>
                  )}
                </div>
              </td>
              <td>{t.engine}</td>
              <td>{t.queue ?? '—'}</td>
              <td className={styles.worker}>{t.worker ?? '—'}</td>
              <td className={styles.time}>{formatTime(t.firstSeenAt)}</td>
              <td className={styles.num}>{formatDuration(t.waitMs)}</td>
              <td className={styles.num}>{formatDuration(t.runtimeMs)}</td>
              <td className={styles.num}>{t.retries ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  ...getTableStyles(theme),
  task: css({ maxWidth: 320, overflow: 'hidden', textOverflow: 'ellipsis' }),
  id: css({
    color: theme.colors.text.secondary,
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: '11px',
    whiteSpace: 'nowrap',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
  }),
  exception: css({ color: theme.colors.error.text }),
  worker: css({ maxWidth: 160, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }),
  time: css({ whiteSpace: 'nowrap' }),
});
