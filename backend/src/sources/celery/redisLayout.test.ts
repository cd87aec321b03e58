// kombu's Redis key layout under the transport options a Celery app may set, read off the broker URL.
import { loadConfig } from '../../config.js';
import { splitCeleryRedisUrl } from './redisLayout.js';

describe("kombu's Redis layout from the broker URL", () => {
  test("kombu's defaults when the URL carries no options", () => {
    const { clientUrl, layout } = splitCeleryRedisUrl('redis://r:6379/3');
    expect(clientUrl).toBe('redis://r:6379/3');
    expect(layout.queueKeys('celery')).toEqual(['celery', 'celery\x06\x163', 'celery\x06\x166', 'celery\x06\x169']);
    expect(layout.fanoutPatterns('celeryev')).toEqual(['/3.celeryev/*', '/3.celeryev']);
    expect(layout.fanoutChannel('celery.pidbox')).toBe('/3.celery.pidbox');
    expect(layout.binding('reply.celery.pidbox', 't1', 'q1')).toEqual({ table: '_kombu.binding.reply.celery.pidbox', member: 't1\x06\x16\x06\x16q1' });
  });

  test('a message goes to the list of the step at or below its priority, clamped to 0–9', () => {
    const { layout } = splitCeleryRedisUrl('redis://r/0');
    expect([0, 2, 3, 5, 8, 9, 42, -1].map((p) => layout.queueKeyFor('q', p))).toEqual(['q', 'q', 'q\x06\x163', 'q\x06\x163', 'q\x06\x166', 'q\x06\x169', 'q\x06\x169', 'q']);
  });

  test('the options move keys, channels and binding members, and leave the client URL', () => {
    const { clientUrl, layout } = splitCeleryRedisUrl('redis://:pw@r:6379/1?global_keyprefix=app1%3A&sep=%3A&priority_steps=0,5&family=6');
    expect(clientUrl).toBe('redis://:pw@r:6379/1?family=6');
    expect(layout.queueKeys('celery')).toEqual(['app1:celery', 'app1:celery:5']);
    expect(layout.queueKeyFor('celery', 7)).toBe('app1:celery:5');
    expect(layout.fanoutPatterns('celeryev')).toEqual(['app1:/1.celeryev/*', 'app1:/1.celeryev']);
    expect(layout.binding('x', 't', 'q')).toEqual({ table: 'app1:_kombu.binding.x', member: 't::q' });
    expect(layout.key('reply-list')).toBe('app1:reply-list');
  });

  test('fanout_prefix: false drops the db prefix, a string replaces it; glob characters are matched literally', () => {
    expect(splitCeleryRedisUrl('redis://r/2?fanout_prefix=false').layout.fanoutChannel('ev')).toBe('ev');
    expect(splitCeleryRedisUrl('redis://r/2?fanout_prefix=true').layout.fanoutChannel('ev')).toBe('/2.ev');
    expect(splitCeleryRedisUrl('redis://r/2?fanout_prefix=%2Fx.').layout.fanoutChannel('ev')).toBe('/x.ev');
    expect(splitCeleryRedisUrl('redis://r/0?global_keyprefix=a*%5B').layout.fanoutPatterns('ev')).toEqual(['a\\*\\[/0.ev/*', 'a\\*\\[/0.ev']);
  });

  test('a bad option stops the service with a message naming it', () => {
    const message = (brokers: string) => {
      try {
        loadConfig({ Z4J_CELERY_BROKERS: brokers });
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(message('redis://r/0?priority_steps=0,5,3')).toMatch(/Z4J_CELERY_BROKERS.*priority_steps must be in ascending order/);
    expect(message('redis://r/0?priority_steps=1,5')).toMatch(/priority_steps must start at 0/);
    expect(message('redis://r/0?priority_steps=0,high')).toMatch(/priority_steps must be comma-separated whole numbers/);
    expect(message('redis://r/0?sep=')).toMatch(/sep must not be empty/);
    expect(message('amqp://mq//?global_keyprefix=x')).toMatch(/apply to Redis brokers only/);
    expect(message('redis://r/0?global_keyprefix=x:&priority_steps=0,1,2, amqp://mq//')).toBe('accepted');
    expect(loadConfig({ Z4J_CELERY_BROKERS: 'redis://r/0?priority_steps=0,5,amqp://mq//' }).Z4J_CELERY_BROKERS).toEqual(['redis://r/0?priority_steps=0,5', 'amqp://mq//']);
  });
});
