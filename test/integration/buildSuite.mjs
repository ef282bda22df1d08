// Bundles the integration suite (test/integration/suite/*.ts) into out/integration/, and makes a
// throw-away workspace holding copies of the fixtures. Shared by both VS Code test runners.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Builds the suite; returns the path of its extensionTestsPath module. */
export async function buildSuite() {
  const suiteDir = path.join(ROOT, 'test/integration/suite');
  // Inside the repo (out/ is git-ignored) so that the suite's require('mocha') finds node_modules.
  const outDir = path.join(ROOT, 'out', 'integration');
  rmSync(outDir, { recursive: true, force: true });
  const entries = ['index.ts', ...readdirSync(suiteDir).filter((f) => f.endsWith('.test.ts'))];
  await esbuild.build({
    entryPoints: entries.map((f) => path.join(suiteDir, f)), outdir: outDir, bundle: true, platform: 'node', format: 'cjs',
    target: 'node20', external: ['vscode', 'mocha'], sourcemap: 'inline', logLevel: 'warning',
  });
  return path.join(outDir, 'index.js');
}

/** A temporary folder with a workspace/ of fixture copies, so tests can check nothing is written beside a model. */
export function makeWorkspace() {
  const tmp = mkdtempSync(path.join(tmpdir(), 'gd-vscode-'));
  const workspace = path.join(tmp, 'workspace');
  mkdirSync(workspace);
  cpSync(path.join(ROOT, 'test/fixtures/models'), path.join(workspace, 'models'), { recursive: true });
  cpSync(path.join(ROOT, 'test/fixtures/malformed'), path.join(workspace, 'malformed'), { recursive: true });
  // the Python source of the fixture modules, where the editor maps findings back to
  mkdirSync(path.join(workspace, 'python'));
  cpSync(path.join(ROOT, 'test/fixtures/make_fixtures.py'), path.join(workspace, 'python', 'make_fixtures.py'));
  return { tmp, workspace };
}
