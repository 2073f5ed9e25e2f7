// Drives Debian's headless chromium (through playwright-core) against the status page, from
// inside the namespace where the director's metrics listener is: loads URL, waits until all
// four charts have drawn at least MIN_POINTS polls, reads the DOM twice a few polls apart,
// saves a screenshot, and prints one JSON line with what it saw. Bounded: 90 s in all.
//   node status-page-driver.mjs URL SCREENSHOT.png
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [url, screenshot] = process.argv.slice(2);
const MIN_POINTS = 6;
const profile = mkdtempSync(path.join(tmpdir(), 'vstun-chromium-'));
const watchdog = setTimeout(() => {
  process.stderr.write('driver: gave up after 90 s\n');
  process.exit(3);
}, 90_000);

/** What the page shows now: header figures, table rows, chart state. */
function readPage() {
  const txt = (sel) => document.querySelector(sel)?.textContent ?? '';
  const rows = [...document.querySelectorAll('#services tbody tr')].map((tr) => ({
    kind: tr.className,
    service: tr.dataset.service,
    server: tr.dataset.server ?? null,
    cells: Object.fromEntries([...tr.children].map((td) => [td.className.split(' ')[0], td.textContent])),
  }));
  const charts = Object.fromEntries(
    [...document.querySelectorAll('.chart')].map((c) => [c.id, { canvases: c.querySelectorAll('canvas').length, points: Number(c.dataset.points ?? 0), series: Number(c.dataset.series ?? 0), legend: [...c.querySelectorAll('.u-legend .u-series .u-label')].map((l) => l.textContent) }]),
  );
  return { polls: Number(txt('#polls')), frames: Number(txt('#frames')), state: txt('#state'), version: txt('#version'), rows, charts };
}

let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 1100 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: 'load', timeout: 20_000 });
  await page.waitForFunction(
    (min) => [...document.querySelectorAll('.chart')].every((c) => c.querySelector('canvas') && Number(c.dataset.points ?? 0) >= min),
    MIN_POINTS,
    { timeout: 40_000, polling: 250 },
  );
  const first = await page.evaluate(readPage);
  await page.waitForFunction((p) => Number(document.querySelector('#polls').textContent) >= p + 3, first.polls, { timeout: 20_000, polling: 250 });
  const second = await page.evaluate(readPage);
  await page.screenshot({ path: screenshot, fullPage: true });
  const origins = [...new Set(requests.map((u) => new URL(u).origin))];
  process.stdout.write(`${JSON.stringify({ first, second, consoleErrors, origins })}\n`);
  clearTimeout(watchdog);
} catch (err) {
  process.stderr.write(`driver: ${err.stack ?? err}\n`);
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(watchdog);
}
