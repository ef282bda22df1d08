import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isDoctorError } from '../../../src/core/errors';
import { analyzeFile, inspectFile } from '../../../src/runtime/engine';
import { fuzzCorpus, listTree, rawTextIn, writeCase, type FuzzCase } from '../../fixtures/make_fuzz';

/** The size that fits in the unit tests; `npm run fuzz` runs the full corpus through the CLI. */
const COUNT = 60;

const digest = (cases: FuzzCase[]) => {
  const h = createHash('sha256');
  for (const c of cases) for (const e of c.entries) h.update(c.name).update(e.path).update(e.kind === 'file' ? e.bytes : e.kind);
  return h.digest('hex');
};

/** Runs `work`; returns 'ok', or the DoctorError's message. Anything else thrown fails the test. */
async function outcome(work: () => Promise<unknown>, what: string): Promise<string> {
  try {
    await work();
    return 'ok';
  } catch (e) {
    assert.ok(isDoctorError(e), `${what} threw something other than a DoctorError (a bug): ${e instanceof Error ? e.stack : String(e)}`);
    const raw = rawTextIn(e.message);
    assert.equal(raw, undefined, `${what}: the message holds raw JavaScript or C++ text '${raw}': ${e.message}`);
    return e.message;
  }
}

describe(`fuzz corpus (test/fixtures/make_fuzz.ts, fixed seed): ${COUNT} mutated models through inspect and analyze`, () => {
  const corpus = fuzzCorpus(COUNT);

  it('is the same corpus every time (fixed seed), and mixes every kind of mutation', () => {
    assert.equal(digest(fuzzCorpus(COUNT)), digest(corpus));
    const kinds = new Set(corpus.map((c) => c.mutation.split('/')[0]));
    for (const k of ['flip', 'truncate', 'tensor-dims', 'external', 'attribute']) assert.ok(kinds.has(k), `the corpus has ${k} mutations`);
  });

  for (const c of corpus) {
    it(`${c.name}: finishes with a result or a DoctorError in plain words, and writes nothing`, { timeout: 120_000 }, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'gd-fuzz-'));
      writeCase(c, dir);
      const before = listTree(dir);
      const file = path.join(dir, c.model);
      // a run past the limit ends this test file's process with a message: a hang fails loudly
      const options = { executionProvider: 'cpu' as const, runTimeoutSeconds: 60 };
      const inspected = await outcome(() => inspectFile(file, options), 'inspect');
      const analyzed = await outcome(() => analyzeFile(file, { ...options, curvatureIterations: 2 }), 'analyze');
      if (c.mutation === 'external/valid') assert.deepEqual([inspected, analyzed], ['ok', 'ok'], 'a valid model with external data is analysed');
      if (inspected !== 'ok') assert.ok(inspected.startsWith(`${file}: `) || inspected.includes(dir), `the message names the model: ${inspected}`);
      assert.deepEqual(listTree(dir), before, 'nothing written beside the model');
    });
  }
});
