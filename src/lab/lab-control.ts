// One request on a vstun control socket (NDJSON, one JSON object per line), for the lab's
// own use: the demo, the integration suite and the benchmark read status and listings.
import net from 'node:net';

/** Sends `request` and resolves with the first reply line parsed; rejects after `timeoutMs` or on a socket error. */
export function controlRequest(socketPath: string, request: Record<string, unknown>, timeoutMs = 3000): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socketPath);
    let buf = '';
    conn.setEncoding('utf8');
    conn.setTimeout(timeoutMs, () => conn.destroy(new Error(`no reply on ${socketPath} within ${timeoutMs} ms`)));
    conn.on('data', (chunk: string) => {
      // Search only the new chunk (a large listing arrives in hundreds of chunks).
      const nl = chunk.indexOf('\n');
      if (nl < 0) {
        buf += chunk;
        return;
      }
      conn.end();
      try {
        resolve(JSON.parse(buf + chunk.slice(0, nl)));
      } catch (err) {
        reject(err);
      }
    });
    conn.on('error', reject);
    conn.on('close', () => reject(new Error(`control socket ${socketPath} closed without a reply`)));
    conn.write(`${JSON.stringify(request)}\n`);
  });
}
