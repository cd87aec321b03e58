// The repository's deployment files as the tests that cannot run them read them:
// docker-compose.yml and provisioning/ (no Docker engine, no Grafana here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const readRepoFile = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** `${NAME:-default}` as Compose substitutes it with NAME unset. */
export const withComposeDefaults = (value: string | number) => String(value).replace(/\$\{\w+:-([^}]*)\}/g, '$1');

/** docker-compose.yml, its anchors merged. */
export const readCompose = <T>() => parse(readRepoFile('docker-compose.yml'), { merge: true }) as T;
