import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileOnce } from './dataDir.js';

describe('createFileOnce', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'z4j-data-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes the file whole, readable by its owner only, and leaves nothing else behind', () => {
    const file = join(dir, 'deeper', 'seal.key');
    expect(createFileOnce(file, 'first\n')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'deeper'))).toEqual(['seal.key']);
  });

  it('never writes over a file another process made, and says it did not make it', () => {
    const file = join(dir, 'audit.key');
    writeFileSync(file, 'theirs\n');
    expect(createFileOnce(file, 'mine\n')).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('theirs\n');
    expect(readdirSync(dir)).toEqual(['audit.key']);
  });
});
