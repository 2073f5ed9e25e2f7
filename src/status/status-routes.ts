// The status page's routes on the metrics listener: / (the page), /status.json (polled by
// it), and /assets/* (its script and style, and uPlot's built files read from the installed
// uplot package: nothing comes from another host). GET and HEAD only, like /metrics.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from './status-page-assets.js';
import { statusDocument, type StatusSources } from './status-snapshot.js';

export interface RouteReply {
  type: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export type Routes = ReadonlyMap<string, () => RouteReply>;

/** The page may load its own files only; uPlot sets style attributes, hence 'unsafe-inline' for styles. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** uPlot's file from the installed package, read once; throws at startup if uplot is missing. */
function uplotFile(name: string): Buffer {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve(`uplot/dist/${name}`));
}

export function statusRoutes(sources: StatusSources): Routes {
  const uplotJs = uplotFile('uPlot.iife.min.js');
  const uplotCss = uplotFile('uPlot.min.css');
  const fixed = (type: string, body: string | Buffer) => () => ({ type, body, headers: PAGE_HEADERS });
  return new Map<string, () => RouteReply>([
    ['/', fixed('text/html; charset=utf-8', STATUS_HTML)],
    ['/assets/status.js', fixed('text/javascript; charset=utf-8', STATUS_JS)],
    ['/assets/status.css', fixed('text/css; charset=utf-8', STATUS_CSS)],
    ['/assets/uPlot.iife.min.js', fixed('text/javascript; charset=utf-8', uplotJs)],
    ['/assets/uPlot.min.css', fixed('text/css; charset=utf-8', uplotCss)],
    ['/status.json', () => ({ type: 'application/json', body: JSON.stringify(statusDocument(sources)), headers: { ...PAGE_HEADERS, 'cache-control': 'no-store' } })],
  ]);
}
