import React from 'react';
import { screen } from '@testing-library/react';
import { createTheme } from '@grafana/data';
import { render } from '../../test/render';
import { DataTable } from './DataTable';

test("a list page's table reads in the theme's body type, as Grafana's own tables and the tasks table do", () => {
  render(
    <DataTable<{ name: string; depth: number }>
      label="Queues"
      rows={[{ name: 'emails', depth: 12 }]}
      rowKey={(q) => q.name}
      columns={[
        { header: 'Queue', cell: (q) => q.name },
        { header: 'Depth', cell: (q) => q.depth, numeric: true },
      ]}
    />
  );
  const table = screen.getByRole('table', { name: 'Queues' });
  expect(getComputedStyle(table).fontSize).toBe(createTheme().typography.body.fontSize);
});

test("a column of row buttons has a header for screen readers, who hear it with each row's buttons", () => {
  render(
    <DataTable<{ name: string }>
      label="Queues"
      rows={[{ name: 'emails' }]}
      rowKey={(q) => q.name}
      columns={[
        { header: 'Queue', cell: (q) => q.name },
        { header: 'Actions', hideHeader: true, cell: (q) => <button>Purge {q.name}</button> },
      ]}
    />
  );
  const header = screen.getByRole('columnheader', { name: 'Actions' });
  expect(header.firstElementChild).toHaveClass('sr-only');
});
