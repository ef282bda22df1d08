import { DoctorError } from '../errors';
import type { NdArray } from '../ndarray';
import { sizeOf, toNumbers } from '../ndarray';
import { DataType, type Model, type Node } from '../onnx/types';
import type { ExecutionProviderPreference, RunnerFactory, TensorRunner } from '../ports';
import { buildJvpModel, buildVjpModel, mergeDerivativeModels, spanNodes, type DerivativeModel, type PrimalFacts, type Span } from './derivative';
import { productFlops } from './flops';
import { elementwiseSlope, FD_ELEMENTWISE, FD_NODE_MAX_INPUTS, FiniteDifferenceRunner, nodeJacobian, type EstimatedJacobian, type EstimatedSlope } from './finiteDifference';
import { CONTROL_FLOW_OPS } from './controlFlow';
import { REGISTRY } from './registry';
import { SEGMENT_NODES, segmentSpan, type Segment } from './segments';

const DTYPE_OF: Record<string, DataType> = {
  float32: DataType.FLOAT, float64: DataType.DOUBLE, int64: DataType.INT64, int32: DataType.INT32, bool: DataType.BOOL,
  uint8: DataType.UINT8, int8: DataType.INT8, float16: DataType.FLOAT16, int16: DataType.INT16, uint16: DataType.UINT16,
};

/** The values of every tensor of a model at one sample, from one forward run. */
export class ForwardPass implements PrimalFacts {
  /** Finite-difference slopes of elementwise nodes without a rule, by node output name. */
  readonly slopes = new Map<string, EstimatedSlope>();

  constructor(
    readonly model: Model,
    readonly values: Map<string, NdArray>,
  ) {}

  /** Finite-difference local Jacobians of other nodes without a rule, by node output name. */
  readonly localJacobians = new Map<string, EstimatedJacobian>();

  slope(node: Node): Float64Array | undefined {
    return this.slopes.get(node.outputs[0])?.values;
  }

  localJacobian(node: Node): EstimatedJacobian | undefined {
    return this.localJacobians.get(node.outputs[0]);
  }

  /** Estimates the slopes of the span's elementwise nodes that have no rule (once each). */
  async ensureSlopes(nodes: Node[], sources: string[], createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<void> {
    const produced = new Set([...sources, ...nodes.flatMap((n) => n.outputs)]);
    for (const n of nodes) {
      const out = n.outputs[0];
      if (REGISTRY.has(n.opType) || CONTROL_FLOW_OPS.has(n.opType) || this.slopes.has(out) || this.localJacobians.has(out)) continue;
      if (FD_ELEMENTWISE.has(n.opType)) {
        this.slopes.set(out, await elementwiseSlope(n, this, createRunner, ep));
        continue;
      }
      // a local Jacobian when only the first input varies within the span and it is small
      const varying = n.inputs.filter((x, i) => x && (i === 0 || produced.has(x)));
      const size = this.values.get(n.inputs[0])?.data.length ?? Infinity;
      if (varying.length === 1 && size <= FD_NODE_MAX_INPUTS && this.values.has(out)) {
        this.localJacobians.set(out, await nodeJacobian(n, this, createRunner, ep));
      }
    }
  }

  /** Runs `model` on `sample`, fetching every intermediate tensor. */
  static async run(model: Model, sample: Record<string, NdArray>, createRunner: RunnerFactory, ep: ExecutionProviderPreference): Promise<ForwardPass> {
    const names = model.graph.nodes.flatMap((n) => n.outputs).filter((o) => o.length > 0);
    const runner = await createRunner(model, { executionProvider: ep, extraOutputs: names, fewRuns: true });
    try {
      const out = await runner.run(sample);
      const values = new Map<string, NdArray>(Object.entries(sample));
      for (const [k, v] of Object.entries(out)) values.set(k, v);
      return new ForwardPass(model, values);
    } finally {
      await runner.dispose();
    }
  }

  shape(name: string): number[] | undefined {
    return this.values.get(name)?.dims ?? this.model.graph.initializers.get(name)?.dims;
  }

  value(name: string): Float64Array | undefined {
    const v = this.values.get(name);
    return v ? toNumbers(v) : undefined;
  }

  dtype(name: string): DataType | undefined {
    const v = this.values.get(name);
    if (v) return DTYPE_OF[v.dtype];
    return this.model.graph.initializers.get(name)?.dataType;
  }
}

/** A batch of K vectors for one tensor, stored as K rows of the tensor's size. */
export type VectorBatch = Float64Array[];

/**
 * Computes batched Jacobian-vector and vector-Jacobian products of spans of a model at one
 * sample, each as one onnxruntime run of a derivative model. Sessions are cached per span.
 */
export class DerivativeRunner {
  private readonly sessions = new Map<string, Promise<{ dm: DerivativeModel; runner: TensorRunner; flops: number[] }>>();
  /** onnxruntime runs made, for the benchmark. */
  runs = 0;
  /** FLOPs of the products made, for the benchmark's floor: per run, each span's vectors x its {@link productFlops}. */
  productFlops = 0;
  private readonly fdRunners: FiniteDifferenceRunner[] = [];
  /** Op types whose derivatives in the models built so far are finite-difference slopes. */
  readonly estimated = new Set<string>();

  private readonly spanEstimates = new Map<string, string[]>();
  private readonly segments = new Map<string, Segment[]>();

  /** Op types whose derivatives in this span's models are finite-difference slopes. */
  estimatesOf(span: Span): string[] {
    return this.spanEstimates.get(JSON.stringify([span.sources, span.targets])) ?? [];
  }

  /**
   * The largest relative error of the finite-difference slopes and local Jacobians that enter
   * `span`'s derivatives (0 when none): the span's own, not the largest of the whole pass.
   */
  slopeError(span: Span): number {
    let e = 0;
    for (const node of spanNodes(this.forward.model.graph, this.order, span)) {
      const estimate = this.forward.slopes.get(node.outputs[0]) ?? this.forward.localJacobians.get(node.outputs[0]);
      if (estimate && !REGISTRY.has(node.opType)) e = Math.max(e, estimate.relativeError);
    }
    return e;
  }

  constructor(
    private forward: ForwardPass,
    private readonly order: number[],
    private readonly opset: number,
    private readonly createRunner: RunnerFactory,
    private readonly ep: ExecutionProviderPreference,
    /** Initializers fed at run time from the forward values instead of baked in (so sessions survive new parameter values). */
    private readonly fedInitializers: ReadonlySet<string> = new Set(),
    /** Spans longer than this many nodes run as segments (see segmentSpan). */
    private readonly segmentNodes: number = SEGMENT_NODES,
  ) {}

  /** Moves to another point (same shapes): cached sessions are kept. */
  setForward(forward: ForwardPass): void {
    this.forward = forward;
  }

  /** J v for each vector: per target, K rows. A long span runs as its segments in order. */
  async jvp(span: Span, vectors: VectorBatch[]): Promise<VectorBatch[]> {
    const segments = this.segmentsOf(span);
    if (segments.length === 1) {
      const { dm, runner, flops } = await this.session('jvp', span, [], span, segments[0].nodes);
      return this.run(dm, runner, span.sources, vectors, flops);
    }
    const known = new Map<string, VectorBatch>(span.sources.map((s, i) => [s, vectors[i]]));
    let out: VectorBatch[] = [];
    for (const seg of segments) {
      const { dm, runner, flops } = await this.session('jvp', seg.span, [], span, seg.nodes);
      out = await this.run(dm, runner, seg.span.sources, seg.span.sources.map((s) => known.get(s) as VectorBatch), flops);
      seg.span.targets.forEach((t, i) => known.set(t, out[i]));
    }
    return out;
  }

  /** J^T u for each vector: per source (then per extra tensor), K rows. A long span runs as its segments in reverse order. */
  async vjp(span: Span, vectors: VectorBatch[], extra: string[] = []): Promise<VectorBatch[]> {
    const segments = this.segmentsOf(span);
    if (segments.length === 1) {
      const { dm, runner, flops } = await this.session('vjp', span, extra, span, segments[0].nodes);
      return this.run(dm, runner, span.targets, vectors, flops);
    }
    // an extra tensor's cotangent comes from the segment that makes it (the first one otherwise: zeros or a source's)
    const home = new Map<string, number>();
    segments.forEach((seg, j) => seg.nodes.forEach((n) => n.outputs.forEach((o) => home.set(o, j))));
    const extrasOf = segments.map(() => [] as string[]);
    for (const t of extra) if (!span.sources.includes(t)) extrasOf[home.get(t) ?? 0].push(t);
    const carried = new Map<string, VectorBatch>(span.targets.map((t, i) => [t, vectors[i]]));
    const sourceSums = new Map<string, VectorBatch>();
    const extras = new Map<string, VectorBatch>();
    for (let j = segments.length - 1; j >= 0; j--) {
      const seg = segments[j];
      const { dm, runner, flops } = await this.session('vjp', seg.span, extrasOf[j], span, seg.nodes);
      const out = await this.run(dm, runner, seg.span.targets, seg.span.targets.map((t) => carried.get(t) as VectorBatch), flops);
      seg.span.sources.forEach((s, i) => {
        if (!span.sources.includes(s)) {
          carried.set(s, out[i]);
          return;
        }
        const prev = sourceSums.get(s);
        sourceSums.set(s, prev ? prev.map((row, k) => row.map((x, e) => x + out[i][k][e])) : out[i]);
      });
      extrasOf[j].forEach((t, i) => extras.set(t, out[seg.span.sources.length + i]));
    }
    const rows = vectors[0]?.length ?? 0;
    const zeros = (t: string) => Array.from({ length: rows }, () => new Float64Array(sizeOf(this.forward.shape(t) ?? [])));
    return [...span.sources.map((s) => sourceSums.get(s) ?? zeros(s)), ...extra.map((t) => (span.sources.includes(t) ? sourceSums.get(t) ?? zeros(t) : extras.get(t) as VectorBatch))];
  }

  /** Whether the span can join a merged derivative model ({@link manyProducts}): it runs as one segment. */
  canMerge(span: Span): boolean {
    return this.segmentsOf(span).length === 1;
  }

  /** The span cut into segments (one when it is short or has no narrow cut), cached per span. */
  private segmentsOf(span: Span): Segment[] {
    const key = JSON.stringify([span.sources, span.targets]);
    let segments = this.segments.get(key);
    if (!segments) {
      segments = segmentSpan(spanNodes(this.forward.model.graph, this.order, span), span, this.segmentNodes);
      this.segments.set(key, segments);
    }
    return segments;
  }

  /**
   * J v (`jvp`, one batch per source of each span) or J^T u (`vjp`, per target) for several spans
   * at once: their derivative models merged into one, one session for the set (cached) and one run.
   * For many small layers this replaces a session and a run per layer. Spans long enough to run as
   * segments are refused (probe them one by one).
   */
  async manyProducts(mode: 'jvp' | 'vjp', spans: Span[], vectors: VectorBatch[][]): Promise<VectorBatch[][]> {
    const key = JSON.stringify([`${mode}*`, spans.map((s) => [s.sources, s.targets])]);
    let s = this.sessions.get(key);
    if (!s) {
      s = (async () => {
        const parts: DerivativeModel[] = [];
        const flops: number[] = [];
        for (const [i, span] of spans.entries()) {
          const segments = this.segmentsOf(span);
          if (segments.length !== 1) throw new DoctorError('runtime', 'a span that runs as segments cannot join a merged derivative model');
          const own = segments[0].nodes;
          await this.forward.ensureSlopes(own, span.sources, this.createRunner, this.ep);
          const dm = mode === 'jvp'
            ? buildJvpModel(this.forward.model, this.order, this.forward, span, this.opset, this.fedInitializers, own, `s${i}/`)
            : buildVjpModel(this.forward.model, this.order, this.forward, span, this.opset, [], this.fedInitializers, own, `s${i}/`);
          for (const op of dm.estimated) this.estimated.add(op);
          const spanKey = JSON.stringify([span.sources, span.targets]);
          this.spanEstimates.set(spanKey, [...new Set([...(this.spanEstimates.get(spanKey) ?? []), ...dm.estimated])]);
          parts.push(dm);
          flops.push(productFlops(own, span.sources, (t) => this.forward.shape(t)));
        }
        const dm = mergeDerivativeModels(parts);
        return { dm, runner: await this.createRunner(dm.model, { executionProvider: this.ep }), flops };
      })();
      this.sessions.set(key, s);
    }
    const { dm, runner, flops } = await s;
    const sides = spans.map((span) => (mode === 'jvp' ? span.sources : span.targets));
    const out = await this.run(dm, runner, sides.flat(), vectors.flat());
    spans.forEach((_, i) => (this.productFlops += (vectors[i][0]?.length ?? 0) * flops[i]));
    let off = 0;
    return spans.map((span) => {
      const count = mode === 'jvp' ? span.targets.length : span.sources.length;
      const part = out.slice(off, off + count);
      off += count;
      return part;
    });
  }

  /** A finite-difference runner for a span at the same sample (fallback for ops without rules). */
  finiteDifference(span: Span): FiniteDifferenceRunner {
    const fd = new FiniteDifferenceRunner(this.forward, this.order, span, this.createRunner, this.ep);
    this.fdRunners.push(fd);
    return fd;
  }

  /** Releases every cached session. */
  async dispose(): Promise<void> {
    for (const fd of this.fdRunners) await fd.dispose();
    this.fdRunners.length = 0;
    for (const s of this.sessions.values()) await (await s.catch(() => undefined))?.runner.dispose();
    this.sessions.clear();
  }

  private session(mode: 'jvp' | 'vjp', span: Span, extra: string[], whole: Span, nodes?: Node[]) {
    const key = JSON.stringify([mode, span.sources, span.targets, extra]);
    let s = this.sessions.get(key);
    if (!s) {
      s = (async () => {
        const own = nodes ?? spanNodes(this.forward.model.graph, this.order, span);
        await this.forward.ensureSlopes(own, span.sources, this.createRunner, this.ep);
        const dm = mode === 'jvp'
          ? buildJvpModel(this.forward.model, this.order, this.forward, span, this.opset, this.fedInitializers, own)
          : buildVjpModel(this.forward.model, this.order, this.forward, span, this.opset, extra, this.fedInitializers, own);
        for (const op of dm.estimated) this.estimated.add(op);
        const spanKey = JSON.stringify([whole.sources, whole.targets]);
        this.spanEstimates.set(spanKey, [...new Set([...(this.spanEstimates.get(spanKey) ?? []), ...dm.estimated])]);
        return { dm, runner: await this.createRunner(dm.model, { executionProvider: this.ep }), flops: [productFlops(own, [...span.sources, ...extra], (t) => this.forward.shape(t))] };
      })();
      this.sessions.set(key, s);
    }
    return s;
  }

  private async run(dm: DerivativeModel, runner: TensorRunner, primals: string[], vectors: VectorBatch[], flops?: number[]): Promise<VectorBatch[]> {
    if (flops) this.productFlops += (vectors[0]?.length ?? 0) * flops[0];
    const feeds: Record<string, NdArray> = {};
    dm.derivativeInputs.forEach((name, i) => {
      const primal = primals[i];
      const shape = this.forward.shape(primal) ?? [];
      const rows = vectors[i];
      const n = sizeOf(shape);
      const double = this.forward.dtype(primal) === DataType.DOUBLE;
      const data = double ? new Float64Array(rows.length * n) : new Float32Array(rows.length * n);
      rows.forEach((r, k) => {
        if (r.length !== n) throw new DoctorError('runtime', `probe vector for '${primal}' has ${r.length} values, expected ${n}`);
        data.set(r, k * n);
      });
      feeds[name] = { dtype: double ? 'float64' : 'float32', dims: [rows.length, ...shape], data } as NdArray;
    });
    for (const p of dm.primalInputs) {
      const v = this.forward.values.get(p);
      if (!v) throw new DoctorError('runtime', `no forward value for '${p}'`);
      feeds[p] = v;
    }
    this.runs++;
    const out = await runner.run(feeds, dm.derivativeOutputs);
    return dm.derivativeOutputs.map((name) => {
      const a = out[name];
      const k = a.dims[0];
      const n = sizeOf(a.dims.slice(1));
      return Array.from({ length: k }, (_, r) => new Float64Array(a.data.subarray(r * n, (r + 1) * n) as Float32Array | Float64Array));
    });
  }
}
