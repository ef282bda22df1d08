import type { InspectResult } from '../core/inspect';

/** Webview -> host messages. */
export type WebviewToHost =
  /** The webview has loaded and wants its data; the host never posts before this. */
  { type: 'ready' };

/** Host -> webview messages. */
export type HostToWebview =
  /** The model summary to show. */
  { type: 'summary'; result: InspectResult };
