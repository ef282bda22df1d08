import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderStandaloneHtml } from '../core/report/html';

/** A self-contained HTML page of the webview app showing `data` (assets read from beside dist/cli.js). */
export function standaloneHtml(title: string, data: unknown): string {
  const root = path.resolve(__dirname, '..');
  return renderStandaloneHtml({
    title,
    data,
    script: readFileSync(path.join(root, 'dist', 'webview.js'), 'utf8'),
    css: readFileSync(path.join(root, 'media', 'report.css'), 'utf8'),
    nonce: randomBytes(16).toString('base64'),
  });
}
