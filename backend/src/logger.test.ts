// Log lines carry no secret an error's text quotes: a driver's error can hold a broker URL with its password.
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: createLogger('info', false, out), lines };
}

test("an error's text and stack are scrubbed, whether logged as text or as the Error", () => {
  const { log, lines } = capture();
  const err = new Error('connect ECONNREFUSED amqp://z4j:hunter2-secret@rabbit:5672/');
  log.warn({ err: String(err) }, 'action failed');
  log.warn({ err }, 'action failed');
  const text = JSON.stringify(lines);
  expect(text).not.toContain('hunter2-secret');
  expect(lines[0]!.err).toMatch(/^Error: connect ECONNREFUSED amqp:\/\/.*rabbit:5672\/$/);
  expect(lines[1]!.err).toMatchObject({ type: 'Error', message: expect.stringMatching(/^connect ECONNREFUSED amqp:\/\/.*rabbit:5672\/$/), stack: expect.stringContaining('logger.test') });
});

test('other fields are left as they are', () => {
  const { log, lines } = capture();
  log.info({ command: 42, kind: 'task.retry', err: undefined }, 'done');
  expect(lines[0]).toMatchObject({ command: 42, kind: 'task.retry', msg: 'done' });
});
