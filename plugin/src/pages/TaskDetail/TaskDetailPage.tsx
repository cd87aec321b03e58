// One task: state and timings, the timeline, redacted arguments and result, the exception,
// links to its relatives, the actions the engine and the user's role allow, and its workflow graph.
import React from 'react';
import { useLocation, useParams } from 'react-router-dom';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { Stack, Tab, TabContent, TabsBar, TextLink, useStyles2 } from '@grafana/ui';
import { AppPage } from '../../components/common/AppPage';
import { LoadError, Loading } from '../../components/common/PageState';
import { StateBadge } from '../../components/common/StateBadge';
import { sameTask, taskAuditUrl, taskUrl } from '../../constants';
import { useTask } from '../../data/useTask';
import { useSession } from '../../hooks/useSession';
import { payloadOmitted, TaskActions } from './TaskActions';
import { TaskOverview } from './TaskOverview';
import { TaskGraphView } from '../TaskGraph/TaskGraphView';

function TaskDetailPage() {
  const { engine = '', taskId = '' } = useParams();
  const { pathname, search } = useLocation();
  const { project, allows } = useSession();
  const graphTab = pathname.endsWith('/graph');
  const detail = useTask(engine, taskId, project);
  const styles = useStyles2(getStyles);
  const task = detail.value?.task;
  // Actions act on the task the URL names, never on one shown before it.
  const actionable = task && sameTask(task, { engine, taskId }) ? task : undefined;

  return (
    <AppPage
      project="show"
      pageNav={{
        text: task?.name ?? taskId,
        subTitle: `${engine} task ${taskId}`,
      }}
      actions={
        actionable ? (
          <TaskActions
            key={`${engine}/${taskId}`}
            task={actionable}
            omitted={payloadOmitted(detail.value!.events)}
            onDone={detail.reload}
          />
        ) : undefined
      }
    >
      {detail.error && <LoadError error={detail.error} what={`task ${taskId}`} onRetry={detail.reload} />}
      {detail.loading && !detail.value && <Loading text="Loading the task…" />}
      {task && (
        <>
          <Stack gap={2} alignItems="center">
            <StateBadge state={task.state} />
            <span className={styles.mono}>{task.taskId}</span>
            {allows('admin') && (
              <TextLink href={taskAuditUrl(engine, taskId, project, task.firstSeenAt)} icon="history" inline={false}>
                Who acted on it
              </TextLink>
            )}
          </Stack>
          <TabsBar className={styles.tabs}>
            <Tab label="Overview" active={!graphTab} href={taskUrl(engine, taskId) + search} />
            <Tab
              label="Workflow graph"
              icon="sitemap"
              active={graphTab}
              href={taskUrl(engine, taskId, true) + search}
            />
          </TabsBar>
          <TabContent>
            {graphTab ? <TaskGraphView engine={engine} taskId={taskId} /> : <TaskOverview detail={detail.value!} />}
          </TabContent>
        </>
      )}
    </AppPage>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  mono: css({ fontFamily: theme.typography.fontFamilyMonospace, color: theme.colors.text.secondary }),
  tabs: css({ marginTop: theme.spacing(2) }),
});

export default TaskDetailPage;
