import type { GraphEdge, GraphNode, TaskGraph } from '../../api/types';
import { criticalPath, layoutGraph, NODE_HEIGHT, NODE_WIDTH } from './layout';

const node = (taskId: string, runtimeMs: number | null = 10, parentId: string | null = null): GraphNode => ({
  engine: 'celery',
  taskId,
  name: `t.${taskId}`,
  state: 'succeeded',
  queue: 'q',
  runtimeMs,
  startedAt: null,
  finishedAt: null,
  parentId,
  groupId: null,
});

describe('critical path', () => {
  test('follows the longest total runtime, not the longest chain', () => {
    // a → b (1000 ms) → d, and a → c → e → d with small runtimes: a, b, d is the critical path.
    const nodes = [node('a', 10), node('b', 1000), node('c', 10), node('e', 10), node('d', 10)];
    const edges: GraphEdge[] = [
      { from: 'a', to: 'b', kind: 'chain' },
      { from: 'b', to: 'd', kind: 'chain' },
      { from: 'a', to: 'c', kind: 'chain' },
      { from: 'c', to: 'e', kind: 'chain' },
      { from: 'e', to: 'd', kind: 'chain' },
    ];
    const path = criticalPath(nodes, edges);
    expect([...path.nodes].sort()).toEqual(['a', 'b', 'd']);
    expect([...path.edges].sort()).toEqual(['a>b', 'b>d']);
    expect(path.ms).toBe(1020);
  });

  test('counts unknown runtimes as zero and survives a cycle in bad data', () => {
    const nodes = [node('x', null), node('y', 5)];
    const path = criticalPath(nodes, [
      { from: 'x', to: 'y', kind: 'chain' },
      { from: 'y', to: 'x', kind: 'retry' },
    ]);
    expect(path.ms).toBeGreaterThanOrEqual(0);
  });
});

describe('layout', () => {
  test('lays out a 1,000-task chord (header of 998 in a group, then a callback) without overlaps', () => {
    const nodes = [
      node('root', 5),
      ...Array.from({ length: 998 }, (_, i) => node(`g${i}`, i, 'root')),
      node('callback', 50, 'g997'),
    ];
    const edges: GraphEdge[] = [
      ...nodes
        .filter((n) => n.parentId === 'root')
        .map((n) => ({ from: 'root', to: n.taskId, kind: 'group' as const })),
      { from: 'g997', to: 'callback', kind: 'chain' },
    ];
    const graph: TaskGraph = { rootId: 'root', truncated: false, nodes, edges };
    const layout = layoutGraph(graph);

    expect(layout.nodes).toHaveLength(1000);
    expect(layout.edges).toHaveLength(999);
    // Layers run left to right: every edge goes rightwards.
    const byId = new Map(layout.nodes.map((n) => [n.taskId, n]));
    for (const e of layout.edges) {
      expect(byId.get(e.to)!.x).toBeGreaterThan(byId.get(e.from)!.x);
    }
    // No two boxes overlap (same layer means same x; then they must be a box apart vertically).
    const columns = new Map<number, number[]>();
    for (const n of layout.nodes) {
      columns.set(n.x, [...(columns.get(n.x) ?? []), n.y]);
    }
    for (const ys of columns.values()) {
      ys.sort((a, b) => a - b);
      for (let i = 1; i < ys.length; i++) {
        expect(ys[i]! - ys[i - 1]!).toBeGreaterThanOrEqual(NODE_HEIGHT);
      }
    }
    expect([...columns.keys()].length).toBe(3);
    expect(layout.width).toBeGreaterThanOrEqual(3 * NODE_WIDTH);
    // root → g997 (997 ms) → callback is the slowest way through.
    expect(
      layout.nodes
        .filter((n) => n.critical)
        .map((n) => n.taskId)
        .sort()
    ).toEqual(['callback', 'g997', 'root']);
  });
});
