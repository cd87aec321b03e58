import { screen, waitFor, within } from '@testing-library/react';
import pluginJson from '../../plugin.json';
import { SERVICE_API_URL } from '../../api/client';
import { taskUrl } from '../../constants';
import type { ScheduleRun } from '../../api/types';
import { reply } from '../../test/backend';
import { fakeService } from '../../test/fakeService';
import { schedule, scheduleRun } from '../../test/fakeSchedules';
import { PAGE_LOAD, renderApp } from '../../test/app';

beforeEach(() => window.localStorage.clear());

// A form in a drawer through @grafana/ui, typed into key by key: tens of seconds on a busy CI machine.
const DRAWER_JOURNEY = 60_000;

type Backend = ReturnType<typeof fakeService>;
const sent = (backend: Backend, method: string, path: string) =>
  backend.requests.filter((r) => r.method === method && r.url === `${SERVICE_API_URL}${path}`);
const previews = (backend: Backend) =>
  sent(backend, 'POST', '/schedules/preview').map((r) => (r.data as { cron: string }).cron);

const table = () => screen.findByRole('table', { name: 'Schedules' }, PAGE_LOAD);
/** The row of the schedule named `name`. */
const rowOf = async (name: string) => (await within(await table()).findByText(name)).closest('tr')!;
/** What Grafana's Field says under `input` (its validation message), or null. */
const said = (input: HTMLElement) => {
  const field = document.querySelector(`label[for="${input.id}"]`)!.closest('div')!.parentElement!;
  return within(field).queryByRole('alert')?.textContent ?? null;
};
/** The cell under `header` in a row of the schedules table. */
const cell = (row: HTMLElement, header: string) => {
  const headers = Array.from(row.closest('table')!.querySelectorAll('th')).map((th) => th.textContent);
  return row.querySelectorAll('td')[headers.indexOf(header)] as HTMLElement;
};

describe('schedules', () => {
  test('are in the navigation after Queues, for every role', () => {
    const pages = pluginJson.includes.filter((i) => i.type === 'page').map((i) => i.name);
    expect(pages.indexOf('Schedules')).toBe(pages.indexOf('Queues') + 1);
    expect(pluginJson.includes.find((i) => i.name === 'Schedules')).toMatchObject({ role: 'Viewer', addToNav: true });
  });

  test('a Viewer reads each schedule (cron in words, next run in their time zone, last run and its task) and is offered no change', async () => {
    fakeService('viewer');
    const { user } = renderApp('/schedules');
    const close = await rowOf('Close the day');

    expect(cell(close, 'Task')).toHaveTextContent('billing.tasks.close_daycelery · billing');
    expect(cell(close, 'Cron')).toHaveTextContent('0 2 * * *At 02:00 · Europe/Paris');
    // Jest runs in UTC: 01:00 UTC is 02:00 in Paris.
    expect(cell(close, 'Next run')).toHaveTextContent('2026-11-30 01:00');
    expect(cell(close, 'Last run')).toHaveTextContent('sent');
    expect(within(cell(close, 'Last run')).getByRole('link', { name: 'c-1' })).toHaveAttribute(
      'href',
      taskUrl('celery', 'c-1')
    );
    expect(cell(close, 'Enabled')).toHaveTextContent('enabled');

    const report = await rowOf('Weekly report');
    expect(cell(report, 'Cron')).toHaveTextContent('@weeklyAt 00:00, only on Sunday · UTC');
    expect(cell(report, 'Next run')).toHaveTextContent('disabled');
    expect(cell(report, 'Last run')).toHaveTextContent('failed');
    expect(cell(report, 'Last run')).toHaveTextContent('no live worker with the z4j agent for rq');
    expect(cell(report, 'Enabled')).toHaveTextContent('disabled');

    expect(screen.queryByRole('switch')).not.toBeInTheDocument();
    for (const name of ['New schedule', 'Run Close the day now', 'Edit Close the day', 'Delete Close the day']) {
      expect(screen.queryByRole('button', { name })).not.toBeInTheDocument();
    }
    // Reading the runs is for everyone.
    await user.click(within(close).getByRole('button', { name: 'Runs of Close the day' }));
    expect(await screen.findByRole('table', { name: 'Runs' })).toBeInTheDocument();
  });

  test.each([
    { role: 'viewer' as const, offered: false, says: 'Project Admins create schedules; you are viewer in Default.' },
    { role: 'admin' as const, offered: true, says: 'A schedule sends a task to a queue on a cron' },
  ])('with none yet, the $role is told what a schedule is and who creates them', async ({ role, offered, says }) => {
    const backend = fakeService(role);
    backend.seedSchedules([]);
    renderApp('/schedules');
    expect(await screen.findByText('No schedules yet', undefined, PAGE_LOAD)).toBeInTheDocument();
    expect(screen.getByText(says, { exact: false })).toBeInTheDocument();
    expect(Boolean(screen.queryByRole('button', { name: 'New schedule' }))).toBe(offered);
  });

  test('an Operator switches a schedule off and runs one now, seeing the run it made or why it was refused', async () => {
    const backend = fakeService('operator');
    const { user } = renderApp('/schedules');
    const close = await rowOf('Close the day');
    expect(screen.queryByRole('button', { name: 'New schedule' })).not.toBeInTheDocument();
    expect(within(close).queryByRole('button', { name: 'Edit Close the day' })).not.toBeInTheDocument();

    const enabled = within(close).getByRole('switch', { name: 'Close the day enabled' });
    expect(enabled).toBeChecked();
    await user.click(enabled);
    await waitFor(() => expect(cell(close, 'Next run')).toHaveTextContent('disabled'));
    expect(enabled).not.toBeChecked();
    expect(sent(backend, 'POST', '/schedules/sch_close/disable')).toHaveLength(1);

    await user.click(within(close).getByRole('button', { name: 'Run Close the day now' }));
    const dialog = await screen.findByRole('dialog', { name: 'Run Close the day now?' });
    expect(dialog).toHaveTextContent('billing.tasks.close_day is sent once, now, to queue billing of celery');
    expect(sent(backend, 'POST', '/schedules/sch_close/run')).toEqual([]);
    await user.click(within(dialog).getByRole('button', { name: 'Run now' }));

    const outcome = await within(screen.getByTestId('action-outcomes')).findByRole('status', {
      name: 'Run now of Close the day: sent',
    });
    expect(within(outcome).getByRole('link', { name: 'sched-sch_close-1' })).toHaveAttribute(
      'href',
      taskUrl('celery', 'sched-sch_close-1')
    );
    expect(outcome).toHaveTextContent('Requested by operator-user');
    const [run] = sent(backend, 'POST', '/schedules/sch_close/run');
    expect(run!.headers?.['Idempotency-Key']).toEqual(expect.any(String));
    await waitFor(() =>
      expect(within(cell(close, 'Last run')).getByRole('link', { name: 'sched-sch_close-1' })).toHaveTextContent(
        'sched-sc…'
      )
    );

    backend.routes[`POST ${SERVICE_API_URL}/schedules/sch_report/run`] = () =>
      reply({ error: { code: 'ENGINE_CANNOT_SEND', message: 'rq cannot send reports.weekly: no agent' } }, 400);
    await user.click(within(await rowOf('Weekly report')).getByRole('button', { name: 'Run Weekly report now' }));
    await user.click(
      within(await screen.findByRole('dialog', { name: 'Run Weekly report now?' })).getByRole('button', {
        name: 'Run now',
      })
    );
    expect(
      await within(screen.getByTestId('action-outcomes')).findByRole('alert', {
        name: 'Run now of Weekly report was refused',
      })
    ).toHaveTextContent('ENGINE_CANNOT_SEND: rq cannot send reports.weekly: no agent');
  });

  test(
    'an Admin creates a schedule: a refusal is said by its field and loses nothing; a bad cron is said as typed, a good one shows when it runs',
    async () => {
      const backend = fakeService('admin');
      const { user } = renderApp('/schedules');
      await table();
      await user.click(screen.getByRole('button', { name: 'New schedule' }));
      const drawer = await screen.findByRole('dialog', { name: /New schedule/ });
      const form = within(drawer);

      // Only the engines the service can send with (the fake's sendable: celery and rq).
      const radios = Array.from(drawer.querySelectorAll<HTMLInputElement>('input[type="radio"]'));
      expect(radios.map((r) => `${r.labels?.[0]?.textContent?.trim()}${r.checked ? ' (picked)' : ''}`)).toEqual([
        'celery (picked)',
        'rq',
      ]);
      const name = form.getByLabelText(/^Name/);
      const args = form.getByLabelText(/^Args/);
      const kwargs = form.getByLabelText(/^Kwargs/);
      const cron = form.getByLabelText(/^Cron/);
      await user.click(name);
      await user.paste('Close the day');
      await user.click(form.getByRole('combobox', { name: /^Task name/ }));
      await user.keyboard('etl.load');
      await user.keyboard('{ArrowDown}{Enter}');
      await user.clear(args);
      await user.paste('[1, "eu"');
      expect(said(args)).toMatch(/^Not JSON/);
      await user.paste(']');
      expect(said(args)).toBeNull();
      await user.clear(kwargs);
      await user.paste('[]');
      expect(said(kwargs)).toBe('Must be a JSON object, like {"day": "today"}');
      await user.clear(kwargs);
      await user.paste('{"full": true}');

      await user.type(cron, '0 2 * *');
      await waitFor(() =>
        expect(said(cron)).toBe(
          'cron needs 5 fields (minute hour day-of-month month day-of-week); seconds are not supported'
        )
      );
      await user.type(cron, ' 1');
      expect(await form.findByText('At 02:00, only on Monday (UTC)')).toBeInTheDocument();
      const next = within(form.getByRole('region', { name: 'Next runs' }));
      await waitFor(() => expect(next.getAllByRole('listitem')).toHaveLength(5));
      expect(next.getAllByRole('listitem')[0]).toHaveTextContent('2026-12-01 01:00');
      expect(said(cron)).toBeNull();
      // Asked once typing paused, not at each key.
      expect(previews(backend)).toEqual(['0 2 * *', '0 2 * * 1']);

      await user.click(form.getByRole('button', { name: 'Create schedule' }));
      await waitFor(() => expect(said(name)).toBe('a schedule named "Close the day" already exists in this project'));
      expect(cron).toHaveValue('0 2 * * 1');
      expect(args).toHaveValue('[1, "eu"]');
      expect(kwargs).toHaveValue('{"full": true}');

      await user.type(name, ' (EU)');
      expect(said(name)).toBeNull();
      await user.click(form.getByRole('button', { name: 'Create schedule' }));

      await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
      expect(sent(backend, 'POST', '/schedules').map((r) => r.data)[1]).toEqual({
        name: 'Close the day (EU)',
        engine: 'celery',
        taskName: 'etl.load',
        args: [1, 'eu'],
        kwargs: { full: true },
        queue: null,
        cron: '0 2 * * 1',
        timezone: 'UTC',
        enabled: true,
      });
      await waitFor(async () =>
        expect(within(await table()).getAllByRole('row')[1]).toHaveTextContent('Close the day (EU)')
      );
    },
    DRAWER_JOURNEY
  );

  test(
    'an engine with a driver that cannot send (Celery without brokers) is not offered, and its schedules are flagged',
    async () => {
      const backend = fakeService('admin');
      backend.caps.sendable = ['rq']; // the capabilities still list celery's driver
      const { user } = renderApp('/schedules');
      expect(within(cell(await rowOf('Close the day'), 'Task')).getByText('cannot send')).toBeInTheDocument();
      expect(within(cell(await rowOf('Weekly report'), 'Task')).queryByText('cannot send')).not.toBeInTheDocument();
      await user.click(screen.getByRole('button', { name: 'New schedule' }));
      const drawer = await screen.findByRole('dialog', { name: /New schedule/ });
      const radios = Array.from(drawer.querySelectorAll<HTMLInputElement>('input[type="radio"]'));
      expect(radios.map((r) => `${r.labels?.[0]?.textContent?.trim()}${r.checked ? ' (picked)' : ''}`)).toEqual([
        'rq (picked)',
      ]);
    },
    DRAWER_JOURNEY
  );

  test(
    'a service that predates sendable: the engines with a driver are offered',
    async () => {
      const backend = fakeService('admin');
      delete backend.caps.sendable;
      const { user } = renderApp('/schedules');
      expect(within(cell(await rowOf('Close the day'), 'Task')).queryByText('cannot send')).not.toBeInTheDocument();
      await user.click(screen.getByRole('button', { name: 'New schedule' }));
      const drawer = await screen.findByRole('dialog', { name: /New schedule/ });
      const radios = Array.from(drawer.querySelectorAll<HTMLInputElement>('input[type="radio"]'));
      expect(radios.map((r) => r.labels?.[0]?.textContent?.trim())).toEqual(['celery', 'rq']);
    },
    DRAWER_JOURNEY
  );

  test(
    'an Admin sees an unknown time zone said under its field',
    async () => {
      fakeService('admin');
      const { user } = renderApp('/schedules');
      await table();
      await user.click(screen.getByRole('button', { name: 'New schedule' }));
      const form = within(await screen.findByRole('dialog', { name: /New schedule/ }));
      await user.type(form.getByLabelText(/^Cron/), '@daily');
      expect(await form.findByText('At 00:00 (UTC)')).toBeInTheDocument();
      const zone = form.getByRole('combobox', { name: /^Time zone/ });
      await user.click(zone);
      await user.keyboard('{Control>}a{/Control}Mars/Olympus');
      await user.keyboard('{ArrowDown}{Enter}');
      await waitFor(() => expect(said(zone)).toBe('unknown time zone "Mars/Olympus"'));
      expect(form.queryByRole('listitem')).not.toBeInTheDocument();
    },
    DRAWER_JOURNEY
  );

  test(
    'an Admin edits the cron without touching the redacted args: only the cron is sent, and the sealed call stays',
    async () => {
      const backend = fakeService('admin');
      const { user } = renderApp('/schedules');
      await user.click(within(await rowOf('Close the day')).getByRole('button', { name: 'Edit Close the day' }));
      const form = within(await screen.findByRole('dialog', { name: /Edit Close the day/ }));

      const kwargs = await form.findByLabelText(/^Kwargs/);
      expect(kwargs).toHaveValue('{"api_key":"[redacted]","dry_run":false}');
      expect(form.getAllByText(/Shown redacted/)).toHaveLength(2);
      expect(form.getByRole('radio', { name: 'celery' })).toBeDisabled();
      await user.clear(form.getByLabelText(/^Cron/));
      await user.type(form.getByLabelText(/^Cron/), '30 3 * * *');
      await user.click(form.getByRole('button', { name: 'Save changes' }));

      await waitFor(() => expect(sent(backend, 'PATCH', '/schedules/sch_close')).toHaveLength(1));
      expect(sent(backend, 'PATCH', '/schedules/sch_close')[0]!.data).toEqual({ cron: '30 3 * * *' });
      await waitFor(async () => expect(cell(await rowOf('Close the day'), 'Cron')).toHaveTextContent('30 3 * * *'));

      // Args changed are sent whole, and a mask left in them is pointed out.
      await user.click(within(await rowOf('Close the day')).getByRole('button', { name: 'Edit Close the day' }));
      const again = within(await screen.findByRole('dialog', { name: /Edit Close the day/ }));
      const kwargsAgain = await again.findByLabelText(/^Kwargs/);
      await user.clear(kwargsAgain);
      await user.paste('{"api_key": "[redacted]", "dry_run": true}');
      expect(again.getByText(/Still holds \[redacted\]/)).toBeInTheDocument();
      // So is what the display copy cut.
      await user.clear(kwargsAgain);
      await user.paste('{"ids": [1, 2, "[498 more items]"], "dry_run": true}');
      expect(again.getByText(/Still holds \[498 more items\]/)).toBeInTheDocument();
      await user.clear(kwargsAgain);
      await user.paste('{"api_key": "[redacted]", "dry_run": true}');
      await user.click(again.getByRole('button', { name: 'Save changes' }));
      await waitFor(() => expect(sent(backend, 'PATCH', '/schedules/sch_close')).toHaveLength(2));
      expect(sent(backend, 'PATCH', '/schedules/sch_close')[1]!.data).toEqual({
        kwargs: { api_key: '[redacted]', dry_run: true },
      });
    },
    DRAWER_JOURNEY
  );

  test('an Admin deletes a schedule only after confirming, and it leaves the list', async () => {
    const backend = fakeService('admin');
    const { user } = renderApp('/schedules');
    await user.click(within(await rowOf('Weekly report')).getByRole('button', { name: 'Delete Weekly report' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete the schedule Weekly report?' });
    expect(dialog).toHaveTextContent('reports.weekly will no longer be sent on @weekly (UTC)');
    expect(sent(backend, 'DELETE', '/schedules/sch_report')).toEqual([]);
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));

    await waitFor(() =>
      expect(within(screen.getByRole('table', { name: 'Schedules' })).queryByText('Weekly report')).toBeNull()
    );
    expect(sent(backend, 'DELETE', '/schedules/sch_report')).toHaveLength(1);
    expect(await rowOf('Close the day')).toBeInTheDocument();
  });

  test('a schedule’s runs read page by page: Load older runs asks for the page after the last one shown', async () => {
    const backend = fakeService('viewer');
    const runs: ScheduleRun[] = Array.from({ length: 60 }, (_, i) =>
      scheduleRun({ id: String(60 - i), scheduleId: 'sch_many', taskId: `t-${60 - i}` })
    );
    runs[0] = scheduleRun({
      id: '60',
      scheduleId: 'sch_many',
      trigger: 'manual',
      dueAt: null,
      requestedBy: 'alice',
      taskId: 't-60',
    });
    runs[1] = scheduleRun({ id: '59', scheduleId: 'sch_many', state: 'failed', missed: 3, error: 'broker down' });
    runs[2] = scheduleRun({ id: '58', scheduleId: 'sch_many', missed: 100, taskId: 't-58' }); // the service's cap: at least 100
    backend.seedSchedules([schedule({ id: 'sch_many', name: 'Every minute', cron: '* * * * *' })], { sch_many: runs });
    const { user } = renderApp('/schedules');
    await user.click(within(await rowOf('Every minute')).getByRole('button', { name: 'Runs of Every minute' }));

    const history = await screen.findByRole('table', { name: 'Runs' });
    const rows = () => Array.from(history.querySelectorAll('tbody tr'));
    await waitFor(() => expect(rows()).toHaveLength(50));
    expect(rows()[0]).toHaveTextContent('manual, by alice');
    expect(within(rows()[0] as HTMLElement).getByRole('link', { name: 't-60' })).toHaveAttribute(
      'href',
      taskUrl('celery', 't-60')
    );
    expect(rows()[1]).toHaveTextContent('cron2026-11-29 01:00failed3—broker down');
    expect(rows()[2]).toHaveTextContent('100+');
    const asked = () => sent(backend, 'GET', '/schedules/sch_many/runs').map((r) => r.params);
    expect(asked()).toEqual([{ limit: 50 }]);

    await user.click(screen.getByRole('button', { name: 'Load older runs' }));
    await waitFor(() => expect(rows()).toHaveLength(60));
    expect(rows()[59]).toHaveTextContent('t-1');
    expect(asked()).toEqual([{ limit: 50 }, { limit: 50, cursor: '11' }]);
    expect(screen.queryByRole('button', { name: 'Load older runs' })).not.toBeInTheDocument();
  });
});
