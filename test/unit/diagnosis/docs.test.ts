import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { rulesMarkdown, thresholdsMarkdown } from '../../../src/core/diagnosis/docs';
import { THRESHOLDS } from '../../../src/core/diagnosis/thresholds';
import { ROOT } from '../../helpers';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const block = (name: string) => new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(readme)?.[1];

describe('diagnosis documentation', () => {
  it('the README lists every rule', () => {
    assert.equal(block('rules'), rulesMarkdown(), 'paste rulesMarkdown() between the rules markers');
  });

  it('the README lists every threshold with its default and reasoning', () => {
    assert.equal(block('thresholds'), thresholdsMarkdown(), 'paste thresholdsMarkdown() between the thresholds markers');
  });

  it('the VS Code setting gradientDoctor.thresholds offers every threshold with its default', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const props = pkg.contributes.configuration.properties['gradientDoctor.thresholds'].properties;
    assert.deepEqual(Object.keys(props).sort(), Object.keys(THRESHOLDS).sort());
    for (const [name, t] of Object.entries(THRESHOLDS)) {
      assert.equal(props[name].default, t.value, name);
      assert.equal(props[name].description, t.description, name);
    }
  });
});
