import type { Node } from '../../onnx/types';
import type { Finding, LayerReport } from '../../report/types';
import { fmt, type DiagnosisContext, type Rule } from '../rule';

/** A post-norm block: the LayerNorm after a residual join, and the parameterized layers since the previous one. */
interface Block {
  norm: Node;
  layers: LayerReport[];
  /** The layers' op types and parameter shapes: blocks with the same signature are of one kind (attention, feed-forward). */
  signature: string;
  /** sqrt of the sum of the squared gradient norms of the layers' parameters. */
  gradNorm: number;
}

/** A kind judged on fewer blocks than this says little about a trend through depth. */
const MIN_BLOCKS_OF_A_KIND = 3;

/**
 * The post-norm blocks of the model, in depth order: a LayerNormalization whose input is a residual
 * join x + F(x) and whose output is the only path onward (nothing skips around the norm), as
 * nn.TransformerEncoderLayer(norm_first=False) exports. In a pre-norm model the join's output also
 * feeds the next join directly, so no block is found.
 */
export function postNormBlocks(ctx: DiagnosisContext): Block[] {
  const { producer, consumers, residualJoins } = ctx.facts;
  const joins = new Set(residualJoins.map((j) => j.node));
  const norms = ctx.model.graph.nodes.filter((n) => {
    if (n.opType !== 'LayerNormalization') return false;
    const join = producer.get(n.inputs[0]);
    return join !== undefined && joins.has(join) && (consumers.get(join.outputs[0]) ?? []).length === 1;
  });
  if (norms.length === 0) return [];
  // the nodes upstream of each norm; the norms form a chain, each upstream of the next
  const upstream = (n: Node): Set<Node> => {
    const out = new Set<Node>();
    const stack = [...n.inputs];
    while (stack.length) {
      const p = producer.get(stack.pop()!);
      if (!p || out.has(p)) continue;
      out.add(p);
      stack.push(...p.inputs.filter(Boolean));
    }
    return out;
  };
  const ups = norms.map((n) => ({ norm: n, up: upstream(n) })).sort((a, b) => a.up.size - b.up.size);
  const grad = new Map(ctx.report.parameters.map((p) => [p.name, p.gradNorm]));
  const shape = new Map(ctx.report.parameters.map((p) => [p.name, p.shape.join('x')]));
  const placed = new Set<LayerReport>();
  const blocks: Block[] = [];
  for (const { norm, up } of ups) {
    const layers = ctx.report.layers.filter((l) => !placed.has(l) && l.parameters.length > 0
      && l.nodes.some((name) => { const node = ctx.facts.nodeByName.get(name); return node !== undefined && up.has(node); }));
    layers.forEach((l) => placed.add(l));
    const grads = layers.flatMap((l) => l.parameters.map((p) => grad.get(p)));
    if (layers.length === 0 || grads.some((g) => g === null || g === undefined || !Number.isFinite(g))) {
      blocks.push({ norm, layers, signature: '', gradNorm: NaN });
      continue;
    }
    blocks.push({
      norm,
      layers,
      signature: layers.map((l) => `${l.opTypes.join('+')}(${l.parameters.map((p) => shape.get(p)).join(',')})`).join(' '),
      gradNorm: Math.sqrt(grads.reduce((s, g) => s! + g! * g!, 0)!),
    });
  }
  return blocks;
}

/** Of each kind of block, the last block's parameter-gradient norm over the geometric mean of its kind's. */
export function postNormGrowth(blocks: Block[]): Array<{ kind: Block[]; growth: number }> {
  const kinds = new Map<string, Block[]>();
  for (const b of blocks) if (b.signature) kinds.set(b.signature, [...(kinds.get(b.signature) ?? []), b]);
  return [...kinds.values()]
    .filter((k) => k.length >= MIN_BLOCKS_OF_A_KIND && k.every((b) => b.gradNorm > 0))
    .map((k) => ({ kind: k, growth: k[k.length - 1].gradNorm / Math.exp(k.reduce((s, b) => s + Math.log(b.gradNorm), 0) / k.length) }));
}

/**
 * Post-norm blocks whose weights the exporter folded into initializers shared by all of them (an
 * eval-mode export of nn.TransformerEncoder, whose blocks start as clones of one layer): a shared
 * weight's gradient is the sum over the blocks, so the growth through depth cannot be measured. Said
 * as information, with the export that keeps each block's own weights.
 */
function sharedBlocks(ctx: DiagnosisContext, blocks: Block[]): Finding[] {
  const shared = new Set(ctx.report.parameters.filter((p) => (p.sharedWith?.length ?? 0) > 0).map((p) => p.name));
  const unmeasured = blocks.filter((b) => b.layers.length === 0 || b.layers.some((l) => l.parameters.some((p) => shared.has(p))));
  if (blocks.length < 2 * MIN_BLOCKS_OF_A_KIND || unmeasured.length === 0 || shared.size === 0) return [];
  const first = blocks.find((b) => b.layers.length > 0);
  return [{
    id: 'post-norm-gradient-growth:shared',
    rule: 'post-norm-gradient-growth',
    severity: 'info',
    layer: first?.layers[0].name,
    node: blocks[0].norm.name,
    message: `Post-norm blocks not measured: ${blocks.length} residual branches are normalised after their Add (post-norm), but ${unmeasured.length} of them share their weights with other blocks `
      + '(the exporter folded identical initial weights into one initializer), so their parameter gradients cannot be told apart and the growth of the gradient through depth is not judged.',
    why: 'In a deep post-norm stack the blocks near the output get much larger gradients than the early ones, which can keep the model from training (README "Does it train?"); this analysis cannot see whether that happens here.',
    fix: 'Export with each block\'s own weights: `torch.onnx.export(..., training=torch.onnx.TrainingMode.TRAINING)` with dropout 0, as bench/training_table.py exports its transformers.',
    expect: 'Each block\'s parameters appear in the report with their own gradient, and the growth is measured.',
  }];
}

export const postNormGradientGrowth: Rule = {
  id: 'post-norm-gradient-growth',
  title: 'post-norm residual blocks (LayerNorm after the Add) whose parameter gradients grow towards the output',
  check(ctx) {
    const t = ctx.thresholds;
    const blocks = postNormBlocks(ctx);
    const growth = postNormGrowth(blocks);
    if (growth.length === 0) return sharedBlocks(ctx, blocks);
    const worst = growth.sort((a, b) => b.growth - a.growth)[0];
    if (worst.growth < t.postNormGradientGrowthWarning) return [];
    const error = worst.growth >= t.postNormGradientGrowthError;
    const kind = worst.kind;
    const [first, last] = [kind[0], kind[kind.length - 1]];
    const smallest = kind.reduce((a, b) => (b.gradNorm < a.gradNorm ? b : a));
    const kinds = new Set(blocks.map((b) => b.signature)).size;
    const depth = Math.max(1, Math.round(blocks.length / kinds));
    const alpha = (2 * depth) ** 0.25;
    const beta = (8 * depth) ** -0.25;
    const lr = ctx.report.curvature.maxStableLearningRateMomentum;
    const name = (b: Block) => b.layers.map((l) => l.name).join(' + ');
    return [{
      id: `post-norm-gradient-growth:${last.layers[0].name}`,
      rule: 'post-norm-gradient-growth',
      severity: error ? 'error' : 'warning',
      layer: last.layers[0].name,
      node: last.norm.name,
      range: [first.layers[0].name, last.layers[last.layers.length - 1].name],
      message: `Post-norm gradient growth: ${blocks.length} residual branches are normalised after their Add (post-norm; ${depth} layers of ${kinds} kind${kinds > 1 ? 's' : ''} of block), and the parameter gradient of the last of the ${kind.length} blocks like ${name(last)} is ${fmt(worst.growth)}x the geometric mean over them; `
        + `it is ${fmt(smallest.gradNorm)} at ${name(smallest)} and ${fmt(last.gradNorm)} at the last.`,
      measured: worst.growth,
      measuredName: 'parameter-gradient norm of the last post-norm block / geometric mean over the blocks of its kind',
      threshold: error ? t.postNormGradientGrowthError : t.postNormGradientGrowthWarning,
      thresholdName: error ? 'postNormGradientGrowthError' : 'postNormGradientGrowthWarning',
      why: 'In a post-norm stack every residual path passes through the LayerNorms above it, so the blocks near the output get large gradients and the early ones small: '
        + 'a step size that is stable for the last blocks starves the first ones, and one large enough for the first ones diverges at the last. The growth compounds with depth '
        + '(README "Does it train?": post-norm trains at 6 and 12 layers and does not at 24).',
      fix: `Move each LayerNorm before its residual branch (pre-norm, x + F(LN(x)): \`norm_first=True\` in nn.TransformerEncoderLayer); `
        + `or keep post-norm and warm the learning rate up linearly over the first few thousand steps (the original Transformer: 4000)${lr !== null ? `, starting at or below ${fmt(lr)} (the largest stable step with momentum at init)` : ''}; `
        + `or scale the residual path as DeepNorm does for ${depth} layers: LN(${fmt(alpha)} x + F(x)) (alpha = (2N)^(1/4)) with the feed-forward, value and output projection weights initialised at gain ${fmt(beta)} (beta = (8N)^(-1/4)).`,
      expect: `The blocks' parameter gradients come out level through depth (the pre-norm transformers of the training table: last block / geometric mean 0.8 to 1.2), below ${fmt(t.postNormGradientGrowthWarning)}.`,
    }];
  },
};
