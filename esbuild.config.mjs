// Builds one bundle per entry point: the extension host code, the analysis worker and the CLI
// (node, CommonJS) and the webview (browser, IIFE). `vscode` and `onnxruntime-node` stay external:
// the first is provided by VS Code, the second ships its native binaries in node_modules.
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

/** @type {esbuild.BuildOptions} */
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'info', define: { GRADIENT_DOCTOR_VERSION: JSON.stringify(version) } };
const node = { ...common, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'onnxruntime-node'] };

const builds = [
  { ...node, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { worker: 'src/runtime/worker.ts' }, outdir: 'dist' },
  { ...node, entryPoints: { cli: 'src/cli/index.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  { ...common, platform: 'browser', format: 'iife', target: 'es2022', entryPoints: { webview: 'webview/src/main.ts' }, outdir: 'dist' },
  // codicons with the font inlined as a data URL: one stylesheet for the webview and the HTML export
  { ...common, sourcemap: false, entryPoints: { codicons: 'webview/codicons.css' }, outdir: 'dist', loader: { '.ttf': 'dataurl' } },
];

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
