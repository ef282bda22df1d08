import type { InspectResult } from '../core/inspect';
import type { WhatIfResult } from '../core/diagnosis/whatIf';
import type { AnalysisReport } from '../core/report/types';
import type { Comparison } from '../core/review/compare';

/** Webview -> host messages. The host validates each one before acting on it. */
export type WebviewToHost =
  /** The webview has loaded and wants its data; the host never posts before this. */
  | { type: 'ready' }
  /** Run (or re-run) the analysis of this editor's model. */
  | { type: 'analyze' }
  /** Open the model as text, with the findings on its lines. */
  | { type: 'openOutline' }
  /** Preview the fix of a finding (what-if). */
  | { type: 'previewFix'; findingId: string }
  /** Reveal a node in the model's text outline (or its Python source). */
  | { type: 'revealNode'; node: string }
  /** Export what this view shows (the host asks for the format and the file). */
  | { type: 'export' };

/** Host -> webview messages. */
export type HostToWebview =
  /** The model summary to show. */
  | { type: 'summary'; result: InspectResult }
  /**
   * The analysis report to show; stale when the model changed on disk since; refining while the
   * analysis still runs (the report is its figures so far, run.phase set; one with run.phase and
   * not refining was cancelled).
   */
  | { type: 'report'; report: AnalysisReport; stale: boolean; refining?: boolean }
  /** Work in progress (or waiting for the user to start it). */
  | { type: 'status'; message: string; busy: boolean }
  /** The analysis failed. */
  | { type: 'error'; message: string }
  /** A what-if preview of this model finished: overlay its "after" figures. */
  | { type: 'whatIf'; result: WhatIfResult }
  /** A comparison of two models to show. */
  | { type: 'comparison'; comparison: Comparison };

/** Checks a message from the webview; undefined when it is not one the host accepts. */
export function parseWebviewMessage(msg: unknown): WebviewToHost | undefined {
  if (typeof msg !== 'object' || msg === null) return undefined;
  const m = msg as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
    case 'analyze':
    case 'openOutline':
    case 'export':
      return { type: m.type };
    case 'previewFix':
      return typeof m.findingId === 'string' && m.findingId.length < 2000 ? { type: 'previewFix', findingId: m.findingId } : undefined;
    case 'revealNode':
      return typeof m.node === 'string' && m.node.length < 2000 ? { type: 'revealNode', node: m.node } : undefined;
    default:
      return undefined;
  }
}
