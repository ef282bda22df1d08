import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (never a downloaded browser). */
export const CHROMIUM = process.env.CHROME_PATH ?? '/usr/bin/chromium';

/** Launches headless chromium with the flags that work offline on these machines. */
export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Problems a page reported: console errors, uncaught exceptions, CSP violations, requests that left the file. */
export interface PageProblems {
  consoleErrors: string[];
  cspViolations: string[];
  requests: string[];
}

/** Opens `url` in a new page of `browser` and collects its problems. */
export async function openPage(browser: Browser, url: string, options: { colorScheme?: 'light' | 'dark'; width?: number } = {}): Promise<{ page: Page; problems: PageProblems }> {
  const problems: PageProblems = { consoleErrors: [], cspViolations: [], requests: [] };
  const page = await browser.newPage({ viewport: { width: options.width ?? 1000, height: 800 }, colorScheme: options.colorScheme ?? 'light' });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.consoleErrors.push(m.text());
    if (m.text().includes('Content Security Policy')) problems.cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => problems.consoleErrors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) problems.requests.push(r.url());
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(url);
  return { page, problems };
}
