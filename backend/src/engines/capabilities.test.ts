import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capabilityMatrixMarkdown } from './driver.js';
import { declaredDrivers } from './registry.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

function testSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : testSources(p);
    return /\.test\.ts$/.test(e.name) ? [readFileSync(p, 'utf8')] : [];
  });
}

describe('engine capabilities', () => {
  test('every capability a driver declares is exercised by a test', () => {
    const text = testSources(join(ROOT, 'backend')).join('\n');
    // A broker variant is covered on its own: covers('dramatiq-rabbitmq', …).
    const exercised = new Set([...text.matchAll(/covers\('([a-z-]+)', '([a-z_.]+)'\)/g)].map((m) => `${m[1]} ${m[2]}`));
    const declared = declaredDrivers().flatMap((d) => Object.keys(d.capabilities).map((c) => `${d.engine}${d.variant ? `-${d.variant.toLowerCase()}` : ''} ${c}`));
    expect(declared.filter((d) => !exercised.has(d))).toEqual([]);
  });

  test("the README's matrix is the one the drivers generate (regenerate: z4j capabilities)", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const m = /<!-- capabilities:start -->\n([\s\S]*?)<!-- capabilities:end -->/.exec(readme);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(capabilityMatrixMarkdown(declaredDrivers()));
  });
});
