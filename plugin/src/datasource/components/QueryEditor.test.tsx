import React from 'react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { DataSource } from '../DataSource';
import type { TrendQuery } from '../types';
import { QueryEditor } from './QueryEditor';

function renderEditor(query: TrendQuery) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<QueryEditor query={query} onChange={onChange} onRunQuery={onRunQuery} datasource={{} as DataSource} />);
  return { onChange, onRunQuery, user: userEvent.setup() };
}

describe('QueryEditor', () => {
  test('a count asks for no statistic; choosing Runtime asks for its p95, and runs the query', async () => {
    const { onChange, onRunQuery, user } = renderEditor({ refId: 'A', metric: 'count' });
    expect(screen.queryByRole('combobox', { name: 'Statistic' })).not.toBeInTheDocument();

    await user.click(screen.getByRole('combobox', { name: 'Measure' }));
    await user.keyboard('Runtime{ArrowDown}{Enter}');

    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', metric: 'runtime', stat: 'p95' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  test('a duration shows its statistic; a series limit is offered once series are grouped', async () => {
    const { onChange, user } = renderEditor({ refId: 'A', metric: 'wait', stat: 'p99', groupBy: 'queue', limit: 5 });
    expect(screen.getByRole('combobox', { name: 'Statistic' })).toHaveValue('p99');
    expect(screen.getByRole('combobox', { name: 'Series by' })).toHaveValue('queue');

    const limit = screen.getByRole('spinbutton', { name: 'Series limit' });
    await user.clear(limit);
    await user.type(limit, '20');
    await user.tab();

    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', metric: 'wait', stat: 'p99', groupBy: 'queue', limit: 20 });
  });

  test('a filter is applied when the field is left, and only when it changed', async () => {
    const { onChange, onRunQuery, user } = renderEditor({ refId: 'A', queue: 'high' });
    expect(screen.queryByRole('spinbutton', { name: 'Series limit' })).not.toBeInTheDocument();

    await user.click(screen.getByRole('textbox', { name: 'Queue' }));
    await user.tab();
    expect(onChange).not.toHaveBeenCalled();

    await user.type(screen.getByRole('textbox', { name: 'State' }), ' $states ');
    await user.tab();
    await user.clear(screen.getByRole('textbox', { name: 'Queue' }));
    await user.tab();

    expect(onChange.mock.calls).toEqual([
      [{ refId: 'A', queue: 'high', state: '$states' }],
      [{ refId: 'A', queue: undefined }],
    ]);
    expect(onRunQuery).toHaveBeenCalledTimes(2);
  });
});
