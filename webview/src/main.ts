/**
 * The webview app. For now it shows a model summary; the report views land with the Report issue.
 * It runs inside a VS Code webview (data arrives by postMessage after 'ready') or as a standalone
 * HTML file (data embedded in a <script type="application/json" id="gd-data"> element).
 */
import type { InspectResult } from '../../src/core/inspect';
import type { HostToWebview, WebviewToHost } from '../../src/protocol/webview';
import { renderSummary } from './summary';

interface VsCodeApi {
  postMessage(msg: WebviewToHost): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

function show(result: InspectResult): void {
  const root = document.getElementById('app');
  if (root) renderSummary(root, result);
}

const embedded = document.getElementById('gd-data');
if (embedded?.textContent) {
  show(JSON.parse(embedded.textContent) as InspectResult);
} else if (typeof acquireVsCodeApi === 'function') {
  const vscode = acquireVsCodeApi();
  window.addEventListener('message', (event: MessageEvent<HostToWebview>) => {
    const msg = event.data;
    switch (msg.type) {
      case 'summary':
        show(msg.result);
        break;
      default: {
        const exhaustive: never = msg.type;
        console.warn('unknown message', exhaustive);
      }
    }
  });
  vscode.postMessage({ type: 'ready' });
}
