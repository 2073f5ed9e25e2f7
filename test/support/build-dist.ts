// vitest globalSetup for the e2e project: end-to-end tests run the real binaries inside
// network namespaces (`ip netns exec ns node dist/...`), so dist/ must match the sources.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    timeout: 300_000,
    cwd: root,
    stdio: 'inherit',
  });
}
