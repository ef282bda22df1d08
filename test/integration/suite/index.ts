import * as path from 'node:path';
import { readdirSync } from 'node:fs';
import Mocha from 'mocha';

/**
 * The extensionTestsPath module: VS Code loads it in the extension host and awaits run(). The same
 * module runs under @vscode/test-electron (npm run test:electron) and under the offline harness.
 */
export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 120000, reporter: 'spec', grep: process.env.GD_TEST_GREP || undefined });
  for (const f of readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) mocha.addFile(path.join(__dirname, f));
  await new Promise<void>((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} integration tests failed`)) : resolve()));
  });
}
