// Files the service makes once in Z4J_DATA_DIR (generated keys and secrets), which replicas
// sharing the directory may all try to make at the same moment.
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes `content` to `file` (mode 0600) unless the file exists, whole or not at all: written
 * to a file of its own first, then linked into place, which fails when another process made it
 * first (its content then stays). Made with 'wx' and written after, the file could be read empty
 * in between, and a replica starting at that moment failed. Where the filesystem has no hard
 * links, 'wx' it is. True when this call made the file.
 */
export function createFileOnce(file: string, content: string): boolean {
  if (existsSync(file)) return false;
  mkdirSync(dirname(file), { recursive: true });
  const own = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.new`;
  writeFileSync(own, content, { mode: 0o600 });
  try {
    linkSync(own, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    return writeOnce(file, content);
  } finally {
    rmSync(own, { force: true });
  }
}

function writeOnce(file: string, content: string): boolean {
  try {
    writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}
