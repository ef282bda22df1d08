import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderStandaloneHtml } from '../core/report/html';

/** A self-contained HTML page of the webview app showing `data` (assets read from beside dist/cli.js). */
export function standaloneHtml(title: string, data: unknown): string {
  const root = packageRoot(__dirname);
  return renderStandaloneHtml({
    title,
    data,
    script: readFileSync(path.join(root, 'dist', 'webview.js'), 'utf8'),
    css: reportCss(root),
    nonce: randomBytes(16).toString('base64'),
  });
}

/** The report's stylesheet and the codicons (font inlined), as one CSS text. */
export function reportCss(root: string): string {
  return readFileSync(path.join(root, 'dist', 'codicons.css'), 'utf8') + '\n' + readFileSync(path.join(root, 'media', 'report.css'), 'utf8');
}

/** The folder holding package.json above `from` (dist/ when bundled, src/cli/ when run from source). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}
