/**
 * Colours for the heatmap: a blue-orange diverging scale (readable with the common colour-vision
 * deficiencies, unlike red-green) around a neutral that follows the theme. Blue is contracting /
 * below healthy, orange expanding / bad.
 */
type Rgb = [number, number, number];

const BLUE: Rgb = [33, 102, 172];
const ORANGE: Rgb = [230, 97, 1];

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)) as Rgb;
}

const css = ([r, g, b]: Rgb) => `rgb(${r}, ${g}, ${b})`;

/** The neutral (healthy) colour for a light or dark background. */
export function neutral(dark: boolean): Rgb {
  return dark ? [58, 58, 62] : [240, 240, 240];
}

/** The colour of scale position t in [-1, 1]; missing values are a translucent grey. */
export function cellColor(t: number | null, dark: boolean): string {
  if (t === null) return dark ? 'rgba(128, 128, 128, 0.25)' : 'rgba(128, 128, 128, 0.15)';
  const n = neutral(dark);
  return css(t < 0 ? mix(n, BLUE, -t) : mix(n, ORANGE, t));
}

/** Text colour that stays legible on a cell. */
export function inkFor(t: number | null, dark: boolean): string {
  return t !== null && Math.abs(t) > 0.6 ? '#ffffff' : dark ? '#e6e6e6' : '#1f1f1f';
}

/** True when the page's background is dark (VS Code theme or the browser's colour scheme). */
export function isDark(): boolean {
  const cls = document.body.classList;
  if (cls.contains('vscode-dark') || cls.contains('vscode-high-contrast')) return true;
  if (cls.contains('vscode-light') || cls.contains('vscode-high-contrast-light')) return false;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;
}

/** A CSS variable's value (with a fallback outside VS Code). */
export function themeColor(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

const GREEN: Rgb = [26, 127, 55];

/**
 * The colour of a change judged against health (a comparison's cells): green for a change toward
 * healthy, orange (the alarm) for one away from it, by strength in [0, 1]; the cell says "better" or
 * "worse" in words too, so the hue is never the only cue.
 */
export function changeColor(judgement: 'better' | 'worse', strength: number, dark: boolean): string {
  const s = 0.25 + 0.75 * Math.max(0, Math.min(1, strength));
  return css(mix(neutral(dark), judgement === 'better' ? GREEN : ORANGE, s));
}
