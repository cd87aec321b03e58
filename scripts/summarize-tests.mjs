#!/usr/bin/env node
// Adds up the results of every runner in a test-results folder (Jest JSON, pytest JUnit XML)
// and prints the closing line "N passed, N failed[, N skipped]". Exits 1 when anything failed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'test-results';
let passed = 0;
let failed = 0;
let skipped = 0;
// Only the runners' result files: test-results also holds artifacts (screenshots/).
for (const entry of readdirSync(dir, { withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const file = entry.name;
  const text = readFileSync(join(dir, file), 'utf8');
  if (file.endsWith('.json')) {
    const r = JSON.parse(text);
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    // A suite that could not run has no failed tests of its own: count it as one failure.
    failed += r.testResults.filter((s) => s.status === 'failed' && s.assertionResults.every((a) => a.status !== 'failed')).length;
  } else if (file.endsWith('.xml')) {
    for (const m of text.matchAll(/<testsuite\b[^>]*>/g)) {
      const attr = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(m[0])?.[1] ?? 0);
      const s = attr('skipped');
      const f = attr('failures') + attr('errors');
      failed += f;
      skipped += s;
      passed += attr('tests') - f - s;
    }
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
