// The workflow graph laid out in layers by dagre (the layered Sugiyama layout Grafana's own
// node graph and most DAG viewers use), plus its critical path: the chain of tasks whose
// runtimes add up to the longest, i.e. what to speed up to finish the workflow sooner.
import dagre from '@dagrejs/dagre';
import type { GraphEdge, GraphNode, TaskGraph } from '../../api/types';

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 48;

export interface PlacedNode extends GraphNode {
  x: number;
  y: number;
  critical: boolean;
}

export interface PlacedEdge extends GraphEdge {
  points: Array<{ x: number; y: number }>;
  critical: boolean;
}

export interface GraphLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
  criticalMs: number;
}

export function layoutGraph(graph: TaskGraph): GraphLayout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 16, ranksep: 56, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) {
    g.setNode(n.taskId, { width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  const edges = graph.edges.filter((e) => g.hasNode(e.from) && g.hasNode(e.to) && e.from !== e.to);
  for (const e of edges) {
    g.setEdge(e.from, e.to);
  }
  dagre.layout(g);

  const critical = criticalPath(graph.nodes, edges);
  const nodes = graph.nodes.map((n) => {
    const p = g.node(n.taskId);
    return { ...n, x: p.x, y: p.y, critical: critical.nodes.has(n.taskId) };
  });
  const placed = edges.map((e) => ({
    ...e,
    points: (g.edge(e.from, e.to)?.points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y })),
    critical: critical.edges.has(`${e.from}>${e.to}`),
  }));
  const { width = 0, height = 0 } = g.graph();
  return { nodes, edges: placed, width, height, criticalMs: critical.ms };
}

/**
 * Longest path by summed runtime, by dynamic programming over a topological order. Retry
 * edges count too (a retry extends the workflow). Cycles cannot happen in valid data; if
 * one does, its back edges are ignored rather than looping.
 */
export function criticalPath(nodes: GraphNode[], edges: GraphEdge[]) {
  const weight = new Map(nodes.map((n) => [n.taskId, Math.max(0, n.runtimeMs ?? 0)]));
  const out = new Map<string, string[]>();
  const indegree = new Map(nodes.map((n) => [n.taskId, 0]));
  for (const e of edges) {
    out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
    indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
  }
  const best = new Map<string, number>();
  const prev = new Map<string, string>();
  const queue = nodes.filter((n) => (indegree.get(n.taskId) ?? 0) === 0).map((n) => n.taskId);
  for (const id of queue) {
    best.set(id, weight.get(id) ?? 0);
  }
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    for (const next of out.get(id) ?? []) {
      const via = (best.get(id) ?? 0) + (weight.get(next) ?? 0);
      if (via > (best.get(next) ?? -1)) {
        best.set(next, via);
        prev.set(next, id);
      }
      const left = (indegree.get(next) ?? 1) - 1;
      indegree.set(next, left);
      if (left === 0) {
        queue.push(next);
      }
    }
  }
  let end: string | undefined;
  let ms = -1;
  for (const [id, total] of best) {
    if (total > ms) {
      ms = total;
      end = id;
    }
  }
  const onPath = new Set<string>();
  const onEdges = new Set<string>();
  for (let id = end; id !== undefined; id = prev.get(id)) {
    onPath.add(id);
    const p = prev.get(id);
    if (p !== undefined) {
      onEdges.add(`${p}>${id}`);
    }
  }
  return { nodes: onPath, edges: onEdges, ms: Math.max(ms, 0) };
}
