import { taskiqMessage } from './driver.js';

describe('taskiqMessage (a retry of a taskiq task)', () => {
  test('carries the labels as the agent recorded them, with their types for the worker to parse back', () => {
    const payload = { name: 'app.add', args: [1, 2], kwargs: {}, queue: 'q', options: { labels: { flag: 'False', n: '3' }, labels_types: { flag: 5, n: 2 } } }; // taskiq's LabelType: BOOL 5, INT 2
    expect(taskiqMessage(payload, 'new-id')).toEqual({
      task_id: 'new-id', task_name: 'app.add', labels: { flag: 'False', n: '3' }, labels_types: { flag: 5, n: 2 }, args: [1, 2], kwargs: {},
    });
  });

  test('a payload without labels (or from an agent that did not record their types) sends none', () => {
    expect(taskiqMessage({ name: 'app.add', args: [], kwargs: {} }, 'id')).toMatchObject({ labels: {}, labels_types: null });
  });
});
