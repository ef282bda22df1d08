#!/usr/bin/env node
// Runs the same integration suite under @vscode/test-electron, which downloads a desktop VS Code:
// for developer machines with internet access (CI uses the offline harness, runVsCode.mjs).
import { runTests } from '@vscode/test-electron';
import { buildSuite, makeWorkspace, ROOT } from './buildSuite.mjs';

const extensionTestsPath = await buildSuite();
const { workspace } = makeWorkspace();
try {
  await runTests({ extensionDevelopmentPath: ROOT, extensionTestsPath, launchArgs: [workspace, '--disable-extensions'], extensionTestsEnv: { GD_TEST_GREP: process.env.GD_TEST_GREP ?? '' } });
} catch (e) {
  console.error(e);
  process.exit(1);
}
