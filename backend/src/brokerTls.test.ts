import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerTls } from './brokerTls.js';

describe('the TLS files a broker URL names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'z4j-tls-'));
  const file = (name: string) => {
    const path = join(dir, name);
    writeFileSync(path, `contents of ${name}`);
    return path;
  };
  const [ca, cert, key] = [file('ca.pem'), file('me.pem'), file('me.key')];

  it('reads amqps:// in aio-pika’s words and leaves the client a URL without them', () => {
    const q = new URLSearchParams({ cafile: ca, certfile: cert, keyfile: key, heartbeat: '30' });
    const { url, tls } = brokerTls(`amqps://u:p@mq:5671/prod?${q}`);
    expect(url).toBe('amqps://u:p@mq:5671/prod?heartbeat=30');
    expect(String(tls?.ca)).toBe('contents of ca.pem');
    expect(String(tls?.cert)).toBe('contents of me.pem');
    expect(String(tls?.key)).toBe('contents of me.key');
    expect(tls?.rejectUnauthorized).toBeUndefined(); // checked, as by default
    expect(brokerTls('amqps://mq/%2F?no_verify_ssl=1')).toEqual({ url: 'amqps://mq/%2F', tls: { rejectUnauthorized: false } });
    expect(brokerTls('amqps://mq/%2F?no_verify_ssl=0').tls?.rejectUnauthorized).toBeUndefined();
  });

  it('reads rediss:// in redis-py’s words', () => {
    const { url, tls } = brokerTls(`rediss://:pw@r:6380/2?ssl_ca_certs=${encodeURIComponent(ca)}&ssl_cert_reqs=CERT_NONE&ssl_check_hostname=False`);
    expect(url).toBe('rediss://:pw@r:6380/2');
    expect(String(tls?.ca)).toBe('contents of ca.pem');
    expect(tls?.rejectUnauthorized).toBe(false);
    expect(tls?.checkServerIdentity?.('r', {} as never)).toBeUndefined();
    expect(brokerTls('rediss://r:6380/2?ssl_cert_reqs=required').tls?.rejectUnauthorized).toBeUndefined();
  });

  it('leaves a URL without them as it is', () => {
    for (const url of ['amqp://guest:guest@mq:5672//', 'rediss://r:6380/0', 'redis://r/0?ssl_ca_certs=/x', 'amqps://mq/%2F?heartbeat=5']) {
      expect(brokerTls(url)).toEqual({ url });
    }
  });

  it('names the argument of a file it cannot read', () => {
    expect(() => brokerTls('amqps://mq/%2F?cafile=/no/such/ca.pem')).toThrow('cafile=/no/such/ca.pem: no such file');
    expect(() => brokerTls(`rediss://r/0?ssl_certfile=${dir}`)).toThrow(`ssl_certfile=${dir}: EISDIR`);
  });
});
