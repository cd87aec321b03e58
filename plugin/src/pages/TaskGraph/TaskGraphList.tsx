// The workflow as a table, where a drawing would not help: too many tasks to lay out in the
// browser, or a layout that failed. Each task with its state, runtime, whether it is on the
// critical path, and a link to it; the tasks that did not succeed can be shown alone.
import React, { useMemo, useState } from 'react';
import { RadioButtonGroup, Stack, Text, TextLink } from '@grafana/ui';
import type { GraphNode, TaskGraph } from '../../api/types';
import { DataTable } from '../../components/common/DataTable';
import { StateBadge } from '../../components/common/StateBadge';
import { inProject, sameTask, taskUrl, type TaskRef } from '../../constants';
import { useSession } from '../../hooks/useSession';
import { formatDuration } from '../../utils/format';
import { criticalPath } from './layout';

type Shown = 'all' | 'unsucceeded';

export function TaskGraphList({ graph, current }: { graph: TaskGraph; current: TaskRef }) {
  const { project } = useSession();
  const unsucceeded = graph.nodes.filter((n) => n.state !== 'succeeded');
  const [shown, setShown] = useState<Shown>(unsucceeded.length ? 'unsucceeded' : 'all');
  const critical = useMemo(() => criticalPath(graph.nodes, graph.edges).nodes, [graph]);
  const rows = shown === 'all' ? graph.nodes : unsucceeded;
  return (
    <Stack direction="column" gap={1}>
      <RadioButtonGroup<Shown>
        aria-label="Tasks shown"
        size="sm"
        value={shown}
        onChange={setShown}
        options={[
          { value: 'unsucceeded', label: `Did not succeed (${unsucceeded.length})` },
          { value: 'all', label: `All (${graph.nodes.length})` },
        ]}
      />
      <DataTable<GraphNode>
        label="Workflow tasks"
        rows={rows}
        rowKey={(n) => `${n.engine}/${n.taskId}`}
        emptyText="Every task of this workflow succeeded."
        columns={[
          { header: 'State', cell: (n) => <StateBadge state={n.state} /> },
          {
            header: 'Task',
            cell: (n) =>
              sameTask(n, current) ? (
                <Text weight="medium">{n.name ?? n.taskId} (this task)</Text>
              ) : (
                <TextLink href={inProject(taskUrl(n.engine, n.taskId), project)} inline={false}>
                  {n.name ?? n.taskId}
                </TextLink>
              ),
          },
          { header: 'Task id', cell: (n) => n.taskId },
          { header: 'Queue', cell: (n) => n.queue ?? '—' },
          { header: 'Runtime', numeric: true, cell: (n) => formatDuration(n.runtimeMs) },
          { header: 'Critical path', cell: (n) => (critical.has(n.taskId) ? 'yes' : '') },
        ]}
      />
    </Stack>
  );
}
