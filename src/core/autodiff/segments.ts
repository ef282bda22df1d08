import type { Node } from '../onnx/types';
import type { Span } from './derivative';

/** Spans with more nodes than this are differentiated as a chain of segments (see {@link segmentSpan}). */
export const SEGMENT_NODES = 256;

/** A cut between segments carries at most this many tensors' derivatives. */
export const SEGMENT_MAX_FRONTIER = 4;

/** One segment of a span: its own nodes, and the derivatives it reads and hands on. */
export interface Segment {
  /** Sources: the previous segment's targets that this one reads, and the span's sources its nodes read. */
  span: Span;
  nodes: Node[];
}

/**
 * Cuts a span (its nodes in topological order) into consecutive segments of at least `maxNodes`
 * nodes, at points where few tensors carry the derivative across (one if there is such a point
 * within half a segment, else the fewest up to `maxFrontier` tensors made by the span's nodes; the
 * span's own sources enter each segment that reads them directly).
 * By the chain rule, J v is the segments' J v in order and J^T u their J^T u in reverse order, and
 * each derivative model stays small: onnxruntime compiles a model in time that grows faster than
 * its size, so one model for a span of thousands of nodes takes minutes. One pass over the nodes.
 * Returns a single segment when no cut is found.
 */
export function segmentSpan(nodes: Node[], span: Span, maxNodes = SEGMENT_NODES, maxFrontier = SEGMENT_MAX_FRONTIER): Segment[] {
  const sources = new Set(span.sources);
  const targets = new Set(span.targets);
  const end = nodes.length;
  // the last position (node index) that reads each tensor made by a span node; targets live to the end
  const lastUse = new Map<string, number>();
  nodes.forEach((n, p) => {
    for (const x of n.inputs) if (x && !sources.has(x)) lastUse.set(x, p);
  });
  for (const t of targets) lastUse.set(t, end);
  const cuts: Array<{ at: number; frontier: string[] }> = [];
  const live = new Set<string>();
  let last = 0;
  // past maxNodes, cut at the first single-tensor point, or after half as many again at the narrowest point seen
  let best: { at: number; frontier: string[] } | undefined;
  for (let p = 0; p < end; p++) {
    if (p - last >= maxNodes && end - p >= maxNodes / 2) {
      if (live.size <= maxFrontier && (!best || live.size < best.frontier.length)) best = { at: p, frontier: [...live] };
      if (best && (best.frontier.length <= 1 || p - last >= 1.5 * maxNodes)) {
        cuts.push(best);
        last = best.at;
        best = undefined;
      }
    }
    const n = nodes[p];
    for (const x of n.inputs) if (x && lastUse.get(x) === p && !targets.has(x)) live.delete(x);
    for (const o of n.outputs) if (o && !sources.has(o) && (lastUse.get(o) ?? -1) > p) live.add(o);
  }
  if (cuts.length === 0) return [{ span, nodes }];
  const bounds = [0, ...cuts.map((c) => c.at), end];
  const frontiers = [[], ...cuts.map((c) => c.frontier), span.targets];
  return bounds.slice(0, -1).map((from, j) => {
    const own = nodes.slice(from, bounds[j + 1]);
    const read = new Set(own.flatMap((n) => n.inputs));
    const entering = span.sources.filter((s) => read.has(s) || (j === bounds.length - 2 && targets.has(s)));
    const carried = frontiers[j].filter((t) => !entering.includes(t));
    return { span: { sources: [...carried, ...entering], targets: frontiers[j + 1] }, nodes: own };
  });
}
