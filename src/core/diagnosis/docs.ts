import { RULES } from './registry';
import { THRESHOLDS } from './thresholds';

/** The README's rule table, generated from the registry (a test keeps the README equal to it). */
export function rulesMarkdown(): string {
  return ['| rule | finds |', '| --- | --- |', ...RULES.map((r) => `| \`${r.id}\` | ${r.title} |`)].join('\n');
}

/** The README's threshold table, generated from THRESHOLDS (a test keeps the README equal to it). */
export function thresholdsMarkdown(): string {
  const rows = Object.entries(THRESHOLDS).map(([name, t]) => `| \`${name}\` | ${t.value} | ${t.description} | ${t.reason} |`);
  return ['| threshold | default | meaning | why this default |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
