import * as assert from 'node:assert/strict';
import * as path from 'node:path';

/** The repository root. */
export const ROOT = path.resolve(__dirname, '..');
/** A fixture model by name (test/fixtures/models/<name>.onnx). */
export const model = (name: string) => path.join(ROOT, 'test', 'fixtures', 'models', `${name}.onnx`);
/** A malformed fixture by file name. */
export const malformed = (file: string) => path.join(ROOT, 'test', 'fixtures', 'malformed', file);
/** A sample-input fixture by file name. */
export const sampleFile = (file: string) => path.join(ROOT, 'test', 'fixtures', 'samples', file);
/** The fixture models exported from PyTorch. */
export const FIXTURE_MODELS = ['mlp_sigmoid', 'mlp_relu_he', 'mlp_tanh_overscaled', 'resnet_small', 'lstm', 'transformer', 'mlp_opset7'];

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol = 0, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e) || (Number.isNaN(a) && Number.isNaN(e));
    assert.ok(ok, `${what}[${i}]: ${a} is not within rtol ${rtol}, atol ${atol} of ${e}`);
  }
}
