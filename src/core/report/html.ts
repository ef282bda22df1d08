/** What a self-contained HTML report is made of. */
export interface StandaloneHtmlParts {
  title: string;
  /** The webview bundle (dist/webview.js). */
  script: string;
  /** The stylesheets (media/report.css and the codicons with their font inlined). */
  css: string;
  /** The data the webview renders, embedded as JSON. */
  data: unknown;
  /** A fresh random nonce for the content security policy. */
  nonce: string;
}

/**
 * A single HTML file that renders the report in any browser with no network access and no extension:
 * the webview bundle, its stylesheet and the data inlined, under a strict content security policy
 * that allows only those inlined parts (by nonce).
 */
export function renderStandaloneHtml(p: StandaloneHtmlParts): string {
  return htmlPage({
    csp: `default-src 'none'; img-src data: blob:; font-src data:; style-src 'nonce-${p.nonce}'; script-src 'nonce-${p.nonce}'`,
    head: `<title>${escapeHtml(p.title)}</title>\n<style nonce="${p.nonce}">${p.css}</style>`,
    body: `<main id="app"></main>
<script type="application/json" id="gd-data">${escapeJsonForScript(JSON.stringify(p.data))}</script>
<script nonce="${p.nonce}">${p.script.replace(/<\/script/gi, '<\\/script')}</script>`,
  });
}

/** The page around the webview app, for a VS Code webview and for a standalone file alike. */
export function htmlPage(p: { csp: string; head: string; body: string }): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${p.csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
${p.head}
</head>
<body>
${p.body}
</body>
</html>
`;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that cannot end its <script> element early or open a comment. */
function escapeJsonForScript(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
