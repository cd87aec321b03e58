// The workflow a task belongs to (chain, group, chord, pipeline, dependencies, retries) as a
// layered SVG graph: state colours, runtime badges, zoom and pan, the critical path
// highlighted, and every node a link to its task.
import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import { Alert, ErrorBoundary, IconButton, Stack, Text, useStyles2, useTheme2 } from '@grafana/ui';
import type { TaskGraph } from '../../api/types';
import { LoadError, Loading } from '../../components/common/PageState';
import { stateColor } from '../../components/common/StateBadge';
import { sameTask, taskUrl, type TaskRef } from '../../constants';
import { useTaskGraph } from '../../data/useTaskGraph';
import { useSession } from '../../hooks/useSession';
import { formatDuration } from '../../utils/format';
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, type GraphLayout, type PlacedNode } from './layout';
import { TaskGraphList } from './TaskGraphList';

/**
 * Above this many tasks the workflow is listed, not drawn: dagre lays a graph out on the page's
 * thread in seconds for a thousand tasks, and recurses as deep as the longest chain (a 2,000-step
 * chain overflowed the stack).
 */
export const MAX_DRAWN_TASKS = 400;

export function TaskGraphView({ engine, taskId }: { engine: string; taskId: string }) {
  const { project } = useSession();
  const graph = useTaskGraph(engine, taskId, project);

  // A failed read again of a running workflow is said above the drawing, which stays as the user
  // panned and zoomed it (and is read again at the next tick).
  const failed = graph.error && <LoadError error={graph.error} what="the workflow graph" onRetry={graph.reload} />;
  if (!graph.value) {
    return failed || <Loading text="Loading the workflow…" />;
  }
  const workflow = graph.value;
  // The page's task, by engine and id: a node of another engine may have the same id.
  const current = { engine, taskId };
  return (
    <div>
      {failed}
      {workflow.truncated && (
        <Alert severity="warning" title="Large workflow">
          Only the first {workflow.nodes.length} tasks are shown.
        </Alert>
      )}
      {workflow.nodes.length > MAX_DRAWN_TASKS ? (
        <>
          <Alert severity="info" title="Too many tasks to draw">
            This workflow has {workflow.nodes.length} tasks; above {MAX_DRAWN_TASKS} they are listed instead of drawn,
            so the page stays responsive.
          </Alert>
          <TaskGraphList graph={workflow} current={current} />
        </>
      ) : (
        <ErrorBoundary boundaryName="z4j-workflow-graph" dependencies={[workflow]}>
          {({ error }) =>
            error ? (
              <>
                <Alert severity="error" title="Could not draw the workflow graph">
                  {error.message}. Its tasks are listed instead.
                </Alert>
                <TaskGraphList graph={workflow} current={current} />
              </>
            ) : (
              <GraphDrawing graph={workflow} current={current} />
            )
          }
        </ErrorBoundary>
      )}
    </div>
  );
}

function GraphDrawing({ graph, current }: { graph: TaskGraph; current: TaskRef }) {
  const layout = useMemo(() => layoutGraph(graph), [graph]);
  return (
    <>
      <Stack gap={2} alignItems="center">
        <Text color="secondary">
          {layout.nodes.length} task{layout.nodes.length === 1 ? '' : 's'}, {layout.edges.length} link
          {layout.edges.length === 1 ? '' : 's'}. Critical path: {formatDuration(layout.criticalMs)} of runtime.
        </Text>
      </Stack>
      {layout.nodes.length <= 1 && (
        <Text color="secondary" element="p">
          This task is not part of a chain, group or retry: its graph is the task alone.
        </Text>
      )}
      <GraphCanvas layout={layout} current={current} />
    </>
  );
}

interface View {
  x: number;
  y: number;
  k: number;
}

function GraphCanvas({ layout, current }: { layout: GraphLayout; current: TaskRef }) {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState<View>({ x: 0, y: 0, k: 1 });
  const drag = useRef<{ x: number; y: number; vx: number; vy: number; moved: boolean } | null>(null);
  // Whether the pointer just panned the graph: the click that ends a pan does not open a task.
  const panned = useRef(false);
  const { search } = window.location;

  const fit = () => {
    const w = box.current?.clientWidth || 1000;
    const h = 560;
    const k = Math.min(1.5, Math.max(0.05, Math.min(w / (layout.width || 1), h / (layout.height || 1))));
    setView({ k, x: (w - layout.width * k) / 2, y: (h - layout.height * k) / 2 });
  };
  // Fitted when the workflow's tasks change, not each time a running workflow is read again (the
  // user's pan and zoom stay).
  const tasks = useMemo(() => layout.nodes.map((n) => n.taskId).join('\u0000'), [layout]);
  useEffect(fit, [tasks, layout.width, layout.height]);

  const zoom = useCallback(
    (factor: number, cx = (box.current?.clientWidth || 1000) / 2, cy = 280) =>
      setView((v) => {
        const k = Math.min(4, Math.max(0.05, v.k * factor));
        return { k, x: cx - ((cx - v.x) * k) / v.k, y: cy - ((cy - v.y) * k) / v.k };
      }),
    []
  );

  // By the node's own engine: a workflow's steps need not all run on the engine of the page's task.
  const open = (node: PlacedNode) => locationService.push(taskUrl(node.engine, node.taskId) + search);

  // The wheel zooms the graph, not the page: React's wheel listener is passive (it cannot
  // prevent the scroll), so the canvas gets one of its own.
  useEffect(() => {
    const el = box.current;
    if (!el) {
      return;
    }
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      zoom(e.deltaY < 0 ? 1.1 : 0.9, e.clientX - r.left, e.clientY - r.top);
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [zoom]);

  return (
    <div className={styles.wrap}>
      <div className={styles.tools}>
        <IconButton name="plus" tooltip="Zoom in" onClick={() => zoom(1.25)} />
        <IconButton name="minus" tooltip="Zoom out" onClick={() => zoom(0.8)} />
        <IconButton name="expand-arrows" tooltip="Fit to view" onClick={fit} />
      </div>
      <div
        ref={box}
        className={styles.canvas}
        onPointerDown={(e) => {
          drag.current = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false };
          panned.current = false;
        }}
        onPointerMove={(e) => {
          const d = drag.current;
          if (d) {
            d.moved ||= Math.abs(e.clientX - d.x) + Math.abs(e.clientY - d.y) > 4;
            setView((v) => ({ ...v, x: d.vx + e.clientX - d.x, y: d.vy + e.clientY - d.y }));
          }
        }}
        onPointerUp={() => {
          panned.current = drag.current?.moved ?? false;
          drag.current = null;
        }}
        onPointerLeave={() => (drag.current = null)}
      >
        {/* A group, not an image: an image's content is hidden from screen readers, and its nodes are links. */}
        <svg width="100%" height={560} role="group" aria-label="Workflow graph">
          <defs>
            <marker
              id="z4j-arrow"
              viewBox="0 0 10 10"
              refX="10"
              refY="5"
              markerWidth="6"
              markerHeight="6"
              orient="auto-start-reverse"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" fill={theme.colors.text.secondary} />
            </marker>
            {/* Where a node's name is drawn (NodeName), in each node's own coordinates. */}
            <clipPath id={NAME_CLIP}>
              <rect x={14} y={0} width={NODE_WIDTH - 38} height={NODE_HEIGHT / 2} />
            </clipPath>
          </defs>
          <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
            {layout.edges.map((e) => (
              <path
                key={`${e.from}>${e.to}`}
                d={e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ')}
                fill="none"
                stroke={e.critical ? theme.colors.warning.main : theme.colors.border.strong}
                strokeWidth={e.critical ? 3 : 1.5}
                strokeDasharray={e.kind === 'retry' ? '6 4' : undefined}
                markerEnd="url(#z4j-arrow)"
              />
            ))}
            {layout.nodes.map((n) => (
              <WorkflowNode
                key={`${n.engine}/${n.taskId}`}
                node={n}
                current={sameTask(n, current)}
                onClick={() => (panned.current ? (panned.current = false) : open(n))}
                onEnter={() => open(n)}
              />
            ))}
          </g>
        </svg>
      </div>
    </div>
  );
}

/** One task of the drawing: a link to it, outlined when it is the page's task or on the critical path. */
function WorkflowNode({
  node: n,
  current,
  onClick,
  onEnter,
}: {
  node: PlacedNode;
  current: boolean;
  onClick: () => void;
  onEnter: () => void;
}) {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  return (
    <g
      transform={`translate(${n.x - NODE_WIDTH / 2},${n.y - NODE_HEIGHT / 2})`}
      className={styles.node}
      role="link"
      aria-current={current ? 'page' : undefined}
      tabIndex={0}
      aria-label={nodeLabel(n)}
      data-testid={`dag-node-${n.taskId}`}
      onClick={onClick}
      onKeyDown={(e) => e.key === 'Enter' && onEnter()}
    >
      {/* The whole name on hover: the node shows only what fits its box. */}
      <title>{n.name ?? n.taskId}</title>
      <rect
        width={NODE_WIDTH}
        height={NODE_HEIGHT}
        rx={4}
        fill={theme.colors.background.secondary}
        stroke={
          current ? theme.colors.primary.main : n.critical ? theme.colors.warning.main : theme.colors.border.medium
        }
        strokeWidth={current || n.critical ? 2.5 : 1}
      />
      <rect width={6} height={NODE_HEIGHT} rx={2} fill={stateColor(theme, n.state)} />
      {/* The spaces between the texts are not drawn (SVG draws only what is in a <text>), but keep
          the words apart where the node's text is read as one string: a checker that the link's
          name holds what it shows (WCAG's label in name) would read "z4j.addsucceeded". */}
      <NodeName name={n.name ?? n.taskId} fill={theme.colors.text.primary} />{' '}
      <text x={14} y={36} fill={theme.colors.text.secondary} fontSize={11}>
        {n.state}
      </text>{' '}
      {n.runtimeMs !== null && (
        <text x={NODE_WIDTH - 8} y={36} textAnchor="end" fill={theme.colors.text.secondary} fontSize={11}>
          {formatDuration(n.runtimeMs)}
        </text>
      )}
    </g>
  );
}

/** What the node shows, in its order (a voice command names what it sees), and whether it is on the critical path. */
function nodeLabel(n: PlacedNode): string {
  const runtime = n.runtimeMs !== null ? `, ${formatDuration(n.runtimeMs)}` : '';
  return `${n.name ?? n.taskId}, ${n.state}${runtime}${n.critical ? ', on the critical path' : ''}`;
}

const NAME_CHARS = 26;
const NAME_CLIP = 'z4j-node-name';

/**
 * The name as far as it fits the node, then "…". The whole name is in the text, cut by a clip
 * (NAME_CLIP): what the node shows must stay a part of its spoken name, which has the whole
 * (WCAG's label in name), and a name cut in the text itself was not.
 */
function NodeName({ name, fill }: { name: string; fill: string }) {
  return (
    <>
      <text x={14} y={19} fill={fill} fontSize={12} clipPath={`url(#${NAME_CLIP})`}>
        {name}
      </text>
      {name.length > NAME_CHARS && (
        <text x={NODE_WIDTH - 22} y={19} fill={fill} fontSize={12} aria-hidden="true">
          …
        </text>
      )}
    </>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrap: css({ position: 'relative', marginTop: theme.spacing(1) }),
  tools: css({
    position: 'absolute',
    right: theme.spacing(1),
    top: theme.spacing(1),
    display: 'flex',
    gap: theme.spacing(0.5),
    zIndex: 1,
  }),
  canvas: css({
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    cursor: 'grab',
    overflow: 'hidden',
    touchAction: 'none',
  }),
  node: css({
    cursor: 'pointer',
    outline: 'none',
    '&:focus rect:first-of-type, &:hover rect:first-of-type': { stroke: theme.colors.primary.border, strokeWidth: 2.5 },
  }),
});
