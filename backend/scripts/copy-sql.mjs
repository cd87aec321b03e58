// tsc does not copy non-TS assets: the SQL migrations ship beside the compiled code. The target
// is replaced, not merged into, so a migration renamed or removed in src leaves no stale copy.
import { cpSync, rmSync } from 'node:fs';
const target = new URL('../dist/db/migrations', import.meta.url);
rmSync(target, { recursive: true, force: true });
cpSync(new URL('../src/db/migrations', import.meta.url), target, { recursive: true });
