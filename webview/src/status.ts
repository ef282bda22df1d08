import { el } from './dom';

/** A status line (analysing, idle or failed), with an Analyze button when the host can run one. */
export function renderStatus(root: HTMLElement, message: string, kind: 'busy' | 'idle' | 'error', analyze?: () => void): void {
  root.replaceChildren();
  root.classList.remove('report');
  const p = el('p', message, `status ${kind}`);
  p.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  root.append(p);
  if (analyze && kind !== 'busy') {
    const b = el('button', kind === 'error' ? 'Try again' : 'Analyze');
    b.addEventListener('click', analyze);
    root.append(b);
  }
}
