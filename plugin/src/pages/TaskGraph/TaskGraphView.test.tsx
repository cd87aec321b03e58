import { screen, waitFor, within } from '@testing-library/react';
import { locationService } from '@grafana/runtime';
import { SERVICE_API_URL } from '../../api/client';
import type { GraphNode, TaskGraph } from '../../api/types';
import { taskUrl } from '../../constants';
import { reply } from '../../test/backend';
import { fakeService } from '../../test/fakeService';
import { PAGE_LOAD, renderApp } from '../../test/app';
import { layoutGraph } from './layout';
import { MAX_DRAWN_TASKS } from './TaskGraphView';

jest.mock('./layout', () => {
  const actual = jest.requireActual('./layout');
  return { ...actual, layoutGraph: jest.fn(actual.layoutGraph) };
});

beforeEach(() => window.localStorage.clear());

const step = (i: number, over: Partial<GraphNode> = {}): GraphNode => ({
  engine: 'celery',
  taskId: i ? `c${i}` : 'f-1',
  name: 'poll.feed',
  state: 'succeeded',
  queue: 'celery',
  runtimeMs: 5,
  startedAt: null,
  finishedAt: null,
  parentId: i ? (i === 1 ? 'f-1' : `c${i - 1}`) : null,
  groupId: null,
  ...over,
});

/** A task that reschedules itself `length` times: one long chain. */
function chain(length: number, over: (i: number) => Partial<GraphNode> = () => ({})): TaskGraph {
  const nodes = Array.from({ length }, (_, i) => step(i, over(i)));
  return {
    rootId: 'f-1',
    truncated: false,
    nodes,
    edges: nodes.slice(1).map((n) => ({ from: n.parentId!, to: n.taskId, kind: 'chain' as const })),
  };
}

function serveGraph(graph: TaskGraph) {
  const backend = fakeService('viewer');
  backend.routes[`GET ${SERVICE_API_URL}/tasks/celery/f-1/graph`] = () => reply(graph);
}

describe('a workflow too large to draw', () => {
  test('a 2,000-step chain is listed instead, at first only the tasks that did not succeed, each a link', async () => {
    serveGraph(chain(2000, (i) => (i === 1500 ? { state: 'failed', name: 'poll.parse' } : {})));
    const { user } = renderApp('/tasks/celery/f-1/graph');

    expect(await screen.findByRole('status', { name: 'Too many tasks to draw' }, PAGE_LOAD)).toHaveTextContent(
      'This workflow has 2000 tasks'
    );
    expect(screen.queryByRole('group', { name: 'Workflow graph' })).not.toBeInTheDocument();
    const table = screen.getByRole('table', { name: 'Workflow tasks' });
    expect(within(table).getAllByRole('row')).toHaveLength(2); // the header and the failed task
    expect(within(table).getByRole('link', { name: 'poll.parse' })).toHaveAttribute('href', taskUrl('celery', 'c1500'));

    await user.click(screen.getByRole('radio', { name: 'All (2000)' }));
    expect(within(table).getAllByRole('row')).toHaveLength(2001);
  });
});

describe('a workflow that cannot be drawn', () => {
  test('says so where the graph would be, lists its tasks, and the page stays', async () => {
    const layout = jest.mocked(layoutGraph);
    layout.mockImplementation(() => {
      throw new RangeError('Maximum call stack size exceeded');
    });
    const quiet = jest.spyOn(console, 'error').mockImplementation(() => undefined); // React reports the error
    try {
      serveGraph(chain(3));
      renderApp('/tasks/celery/f-1/graph');

      const alert = await screen.findByRole('alert', { name: 'Could not draw the workflow graph' }, PAGE_LOAD);
      expect(alert).toHaveTextContent('Maximum call stack size exceeded');
      expect(screen.getByRole('table', { name: 'Workflow tasks' })).toBeInTheDocument();
      expect(screen.getByRole('tab', { name: 'Overview' })).toBeInTheDocument();
    } finally {
      quiet.mockRestore();
      layout.mockImplementation(jest.requireActual('./layout').layoutGraph);
    }
  });
});

describe('a workflow still running', () => {
  test('is read again while a task in it has not settled, and its nodes follow', async () => {
    const graph = chain(3, (i) => (i === 2 ? { state: 'started' } : {}));
    const backend = fakeService('viewer');
    backend.routes[`GET ${SERVICE_API_URL}/tasks/celery/f-1/graph`] = () => reply(structuredClone(graph)); // parsed anew, as a fetch is
    renderApp('/tasks/celery/f-1/graph');
    const node = await screen.findByTestId('dag-node-c2', undefined, PAGE_LOAD);
    expect(node.getAttribute('aria-label')).toMatch(/^poll\.feed, started/);

    graph.nodes[2] = { ...graph.nodes[2]!, state: 'succeeded' };
    await waitFor(
      () => expect(screen.getByTestId('dag-node-c2').getAttribute('aria-label')).toMatch(/^poll\.feed, succeeded/),
      {
        timeout: 15_000,
      }
    );
  }, 20_000);
});

describe('a workflow still running, when a read fails', () => {
  test('stays drawn, where the user had panned and zoomed it, with the failure said above it', async () => {
    const graph = chain(3, (i) => (i === 2 ? { state: 'started' } : {}));
    const backend = fakeService('viewer');
    let reads = 0;
    backend.routes[`GET ${SERVICE_API_URL}/tasks/celery/f-1/graph`] = () =>
      ++reads === 2
        ? reply({ error: { code: 'READ_TIMEOUT', message: 'the graph query took too long' } }, 503)
        : reply(structuredClone(graph));
    const { user } = renderApp('/tasks/celery/f-1/graph');
    const node = await screen.findByTestId('dag-node-c2', undefined, PAGE_LOAD);
    await user.click(screen.getByRole('button', { name: 'Zoom in' }));
    const zoomed = node.parentElement!.getAttribute('transform');

    const error = await screen.findByRole('alert', { name: 'Could not load the workflow graph' }, { timeout: 15_000 });
    expect(error).toHaveTextContent('the graph query took too long');
    expect(screen.getByTestId('dag-node-c2')).toBe(node);
    expect(node.parentElement!.getAttribute('transform')).toBe(zoomed);
  }, 20_000);
});

describe('a node of the workflow', () => {
  test("opens its own task, on the node's engine, not the engine of the page's task", async () => {
    // The page is a Celery task's; one step of its workflow ran on RQ.
    serveGraph(chain(3, (i) => (i === 2 ? { engine: 'rq', name: 'report.render' } : {})));
    const push = jest.spyOn(locationService, 'push').mockImplementation(() => undefined);
    try {
      const { user } = renderApp('/tasks/celery/f-1/graph');
      await user.click(await screen.findByTestId('dag-node-c2', undefined, PAGE_LOAD));
      expect(push).toHaveBeenLastCalledWith(taskUrl('rq', 'c2'));

      screen.getByTestId('dag-node-c1').focus();
      await user.keyboard('{Enter}');
      expect(push).toHaveBeenLastCalledWith(taskUrl('celery', 'c1'));
    } finally {
      push.mockRestore();
    }
  });
});

describe('a node', () => {
  test('cuts a long name to its box, whole in its text and its spoken name, and gives it on hover', async () => {
    const name = 'reports.monthly.render_customer_statement_pdf';
    serveGraph(chain(2, (i) => (i === 1 ? { name } : {})));
    renderApp('/tasks/celery/f-1/graph');
    const node = await screen.findByTestId('dag-node-c1', undefined, PAGE_LOAD);
    // Cut by the clip (jsdom draws nothing), with "…" drawn after it and not read out.
    const text = within(node).getByText(name, { selector: 'text' });
    expect(text).toHaveAttribute('clip-path', 'url(#z4j-node-name)');
    expect(within(node).getByText('…')).toHaveAttribute('aria-hidden', 'true');
    expect(node).toHaveAccessibleName(expect.stringMatching(new RegExp(`^${name.replace(/\./g, '\\.')}, `)));
    expect(node.querySelector('title')).toHaveTextContent(name);
  });

  test('draws a short name whole, without "…"', async () => {
    serveGraph(chain(2));
    renderApp('/tasks/celery/f-1/graph');
    const node = await screen.findByTestId('dag-node-c1', undefined, PAGE_LOAD);
    expect(within(node).queryByText('…')).not.toBeInTheDocument();
  });
});

describe("the page's own task in its workflow", () => {
  test('is the node marked as the current page, by its engine and id', async () => {
    serveGraph(chain(3));
    renderApp('/tasks/celery/f-1/graph');
    expect(await screen.findByTestId('dag-node-f-1', undefined, PAGE_LOAD)).toHaveAttribute('aria-current', 'page');
    expect(screen.getByTestId('dag-node-c1')).not.toHaveAttribute('aria-current');
  });

  test('is not a task of another engine that has the same id', async () => {
    // The page is Celery task f-1; the step of that id in this workflow ran on RQ.
    serveGraph(chain(3, (i) => (i === 0 ? { engine: 'rq' } : {})));
    renderApp('/tasks/celery/f-1/graph');
    const node = await screen.findByTestId('dag-node-f-1', undefined, PAGE_LOAD);
    expect(node).not.toHaveAttribute('aria-current');
    expect(screen.getByTestId('dag-node-c1')).not.toHaveAttribute('aria-current');
  });

  test('is "this task" in the list of a workflow too large to draw, and the RQ task of its id a link', async () => {
    const graph = chain(MAX_DRAWN_TASKS + 1, (i) => (i === 1 ? { state: 'failed' } : {}));
    // An RQ task of the same id as the page's Celery task, in the same workflow.
    graph.nodes.push(step(0, { engine: 'rq', name: 'report.render', state: 'failed', parentId: 'c1' }));
    serveGraph(graph);
    const { user } = renderApp('/tasks/celery/f-1/graph');

    const table = await screen.findByRole('table', { name: 'Workflow tasks' }, PAGE_LOAD);
    expect(within(table).getByRole('link', { name: 'report.render' })).toHaveAttribute('href', taskUrl('rq', 'f-1'));
    await user.click(screen.getByRole('radio', { name: `All (${MAX_DRAWN_TASKS + 2})` }));
    expect(within(table).getAllByText(/\(this task\)$/)).toHaveLength(1);
    expect(within(table).getByText('poll.feed (this task)')).toBeInTheDocument();
  });
});
