import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { TextLink, Tooltip, useStyles2 } from '@grafana/ui';
import type { Task } from '../../api/types';
import { StateBadge } from '../../components/common/StateBadge';
import { inProject, taskUrl } from '../../constants';
import { formatDuration, formatTime } from '../../utils/format';
import { getTableStyles, TableScroll } from '../../components/common/DataTable';

/** The explorer's rows. Each task's name is a link, so rows open with a click, Enter, or in a new tab. */
export function TaskTable({ tasks, project }: { tasks: Task[]; project?: string }) {
  const styles = useStyles2(getStyles);
  return (
    <TableScroll label="Tasks">
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
                <div className={styles.taskLines}>
                  <TextLink
                    href={inProject(taskUrl(t.engine, t.taskId), project)}
                    inline={false}
                    title={t.name ?? undefined}
                  >
                    <span className={styles.cut}>{t.name ?? '(unnamed)'}</span>
                  </TextLink>
                  <IdLine task={t} />
                </div>
              </td>
              <td>{t.engine}</td>
              <td>
                <Cut text={t.queue} width="24ch" />
              </td>
              <td>
                <Cut text={t.worker} width="32ch" />
              </td>
              <td className={styles.time}>{formatTime(t.firstSeenAt)}</td>
              <td className={styles.num}>{formatDuration(t.waitMs)}</td>
              <td className={styles.num}>{formatDuration(t.runtimeMs)}</td>
              <td className={styles.num}>{t.retries ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

/**
 * The task's id and the first line of its exception, cut to the column; the whole of both on
 * hover of the line (the exception may be past its end on a narrow page).
 */
function IdLine({ task }: { task: Task }) {
  const styles = useStyles2(getStyles);
  if (!task.exception) {
    return (
      <div className={styles.id} title={task.taskId}>
        {task.taskId}
      </div>
    );
  }
  return (
    <Tooltip content={`${task.taskId}: ${task.exception}`}>
      <div className={styles.id}>
        {task.taskId}
        <span className={styles.exception}> · {task.exception.split('\n')[0]}</span>
      </div>
    </Tooltip>
  );
}

/** A value cut with an ellipsis past `width`, whole in its title (shown on hover). */
function Cut({ text, width }: { text: string | null; width: string }) {
  const styles = useStyles2(getStyles);
  return text ? (
    <span className={styles.cut} style={{ maxWidth: width }} title={text}>
      {text}
    </span>
  ) : (
    <>—</>
  );
}

// The list pages' table (Grafana's body type), with room made for long values. The task column
// takes the room the others leave (at least 24 characters; the table scrolls sideways below
// that), and its name and id line are cut to it; queue and worker are as wide as their values
// up to a bound in characters. Whatever is cut ends in an ellipsis and is whole in its title.
const getStyles = (theme: GrafanaTheme2) => {
  const table = getTableStyles(theme);
  return {
    ...table,
    task: css({ width: '100%', minWidth: '24ch' }),
    taskLines: css({
      // Adds nothing to the column's width (its lines are long and do not wrap), and fills it.
      width: 0,
      minWidth: '100%',
      // The link is a flex box: its text is cut inside it, not the link clipped by the cell.
      '& > a': { maxWidth: '100%' },
    }),
    cut: css({
      display: 'inline-block',
      overflow: 'hidden',
      textOverflow: 'ellipsis',
      whiteSpace: 'nowrap',
      verticalAlign: 'bottom',
    }),
    id: css({
      ...theme.typography.bodySmall,
      color: theme.colors.text.secondary,
      fontFamily: theme.typography.fontFamilyMonospace,
      whiteSpace: 'nowrap',
      overflow: 'hidden',
      textOverflow: 'ellipsis',
    }),
    exception: css({ color: theme.colors.error.text }),
    time: css({ whiteSpace: 'nowrap' }),
  };
};
