#!/usr/bin/env node
// Runs the integration suite inside a real VS Code extension host, offline: the VS Code server from
// the code-server npm package (installed by scripts/setup-test-env.sh) serves the web workbench,
// Debian's chromium opens it through playwright-core, and the URL payload names this extension
// (extensionDevelopmentPath) and the suite (extensionTestsPath), as VS Code's own browser
// integration tests do. The workbench calls window.codeAutomationExit(code) when the suite's run()
// settles. Prints "vscode: N passed, N failed" as its last line.
//
// Usage: node test/integration/runVsCode.mjs [--grep <pattern>] [--screenshot <png>] [--screenshots <dir>] [--keep] [--vsix <file>]
// With --screenshots, a suite line "GD_SCREENSHOT <name>" makes the harness save the workbench as
// <dir>/<name>.png (the suite waits for it), and the suite's screenshot tests run (GD_SCREENSHOTS=1).
// With --vsix, the packaged extension is installed into the test VS Code (as a user would) and tested
// instead of the working tree.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { format } from 'node:util';
import { buildSuite, makeWorkspace, ROOT } from './buildSuite.mjs';
import { chromium } from 'playwright-core';

const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const CS_VERSION = process.env.CS_VERSION ?? '4.100.3';
const serverMain = path.join(process.env.VSCODE_TEST_DIR ?? path.join(ROOT, '.vscode-test'), `code-server-${CS_VERSION}`, 'node_modules/code-server/lib/vscode/out/server-main.js');
const chrome = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const timeoutMs = Number(arg('timeout', 300000));

const freePort = () => new Promise((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
const waitHttp = (url, ms) => new Promise((resolve, reject) => {
  const t0 = Date.now();
  const tick = () => http.get(url, (r) => { r.resume(); resolve(); }).on('error', () => (Date.now() - t0 > ms ? reject(new Error(`VS Code server did not start: ${url}`)) : setTimeout(tick, 200)));
  tick();
});

async function main() {
  if (!existsSync(serverMain)) throw new Error(`VS Code server not found at ${serverMain}: run scripts/setup-test-env.sh`);
  if (!arg('vsix') && !existsSync(path.join(ROOT, 'dist/extension.js'))) throw new Error('dist/extension.js is missing: run npm run build');
  const t0 = Date.now();
  const { tmp, workspace } = makeWorkspace();
  const suiteIndex = await buildSuite();
  const vsix = arg('vsix');
  const extensionsDir = path.join(tmp, 'extensions');
  if (vsix) {
    const install = spawnSync(process.execPath, [serverMain, '--install-extension', path.resolve(vsix), '--extensions-dir', extensionsDir, '--accept-server-license-terms'], { encoding: 'utf8' });
    if (install.status !== 0) throw new Error(`installing ${vsix} failed: ${install.stderr}${install.stdout}`);
    console.log(install.stdout.trim());
  }
  // VS Code runs extension tests only for a development extension: point that at the installed copy.
  const installed = vsix ? readdirSync(extensionsDir).find((d) => d.startsWith('gradient-doctor.gradient-doctor-')) : undefined;
  if (vsix && !installed) throw new Error(`${vsix} did not install into ${extensionsDir}`);
  const extensionPath = installed ? path.join(extensionsDir, installed) : ROOT;
  const port = await freePort();
  const authority = `127.0.0.1:${port}`;
  const home = path.join(tmp, 'home');
  const ttmp = path.join(tmp, 'tmp');
  mkdirSync(home); mkdirSync(ttmp);
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: `${home}/.config`, XDG_CACHE_HOME: `${home}/.cache`, XDG_DATA_HOME: `${home}/.local/share`,
    TMPDIR: ttmp, EXTENSIONS_GALLERY: '{}', VSCODE_AGENT_FOLDER: path.join(tmp, 'agent'), GD_TEST_GREP: arg('grep', ''), GD_SCREENSHOTS: arg('screenshots') ? '1' : '' };
  const logFile = path.join(tmp, 'server.log');
  const server = spawn(process.execPath, [serverMain, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token',
    '--accept-server-license-terms', '--enable-smoke-test-driver', '--telemetry-level', 'off', '--disable-workspace-trust',
    '--user-data-dir', path.join(tmp, 'user-data'), '--server-data-dir', path.join(tmp, 'server-data'), '--extensions-dir', extensionsDir],
  { env, stdio: ['ignore', openSync(logFile, 'w'), openSync(logFile, 'a')], detached: true });
  const stopServer = () => { try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ } };
  process.on('SIGINT', () => { stopServer(); process.exit(130); });

  let browser; let code; let passed = 0; let failed = 0;
  try {
    await waitHttp(`http://${authority}/`, 60000);
    browser = await chromium.launch({ executablePath: chrome, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'], env });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    let finish; const finished = new Promise((resolve) => { finish = resolve; });
    setTimeout(() => { console.error(`TIMEOUT after ${timeoutMs} ms`); finish(124); }, timeoutMs).unref();
    await page.exposeFunction('codeAutomationExit', (c) => finish(c));
    await page.exposeFunction('codeAutomationLog', async (type, args) => {
      const line = format(...(args ?? []));
      if (!process.env.VERBOSE && /^(Resolv|Creating a socket|Updating additional|\[Service Worker\]|Ignoring fetching|ChatSessionStore)/.test(line)) return;
      let m;
      const shots = arg('screenshots');
      if (shots && (m = /^GD_SCREENSHOT (\S+)$/.exec(line.trim()))) {
        mkdirSync(shots, { recursive: true });
        await page.screenshot({ path: path.join(shots, `${m[1]}.png`) }).catch((e) => console.error(`screenshot ${m[1]} failed: ${e}`));
        console.log(`saved ${path.join(shots, `${m[1]}.png`)}`);
        return;
      }
      if ((m = /^\s*(\d+) passing/.exec(line))) passed += Number(m[1]);
      if ((m = /^\s*(\d+) failing/.exec(line))) failed += Number(m[1]);
      (type === 'error' ? console.error : console.log)(line);
    });
    const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://${authority}${extensionPath}`],
      ['extensionTestsPath', `vscode-remote://${authority}${suiteIndex}`], ['skipWelcome', 'true'], ['skipReleaseNotes', 'true']]);
    await page.goto(`http://${authority}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
    code = await finished;
    const shot = arg('screenshot');
    if (shot) await page.screenshot({ path: shot }).catch(() => {});
  } catch (e) {
    console.error('harness error:', e);
    code = 1;
    if (existsSync(logFile)) console.error(readFileSync(logFile, 'utf8').slice(-3000));
  } finally {
    if (browser) await browser.close().catch(() => {});
    stopServer();
  }
  if (code !== 0 && failed === 0) failed = 1;
  const keep = process.argv.includes('--keep') || code !== 0;
  if (!keep) rmSync(tmp, { recursive: true, force: true });
  console.log(`(exit ${code}, ${((Date.now() - t0) / 1000).toFixed(1)} s${keep ? `, files in ${tmp}` : ''})`);
  console.log(`vscode: ${passed} passed, ${failed} failed`);
  process.exit(code === 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); console.log('vscode: 0 passed, 1 failed'); process.exit(1); });
