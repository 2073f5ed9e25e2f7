#!/usr/bin/env node
// Installs the Debian packages of the system tools vstun's build, tests, demo and benchmark
// run (the list is scripts/system-packages.txt). npm calls it before `npm test` and
// `npm start`, .ci/run before `npm ci`. When every tool is present it only looks them up
// (no apt-get, no output), so it is cheap to run each time.
//
//   node scripts/setup-system.mjs [--for build,test,demo,bench] [--check]
//
// --for      only the tools these uses need (default: all of them)
// --check    report missing tools and exit 1 if any; never install
// Not root, or no apt-get: names the missing tools and the command that installs them, exit 1.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LIST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'system-packages.txt');
const USES = ['build', 'test', 'demo', 'bench'];
// Debian puts ip, nginx, sysctl, modprobe, bird and nft in sbin, which only root's PATH has.
// A user who is not root still has them installed: look there too, so that the answer is
// "installed" and not a useless "apt-get install" of a package that is already there.
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const APT_INSTALL = 'apt-get install -y --no-install-recommends';

/** Parses the package list: one `command package uses why...` a line, # comments. */
function parseToolList(text) {
  const tools = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [command, pkg, uses, ...why] = line.split(/\s+/);
    const usedBy = (uses ?? '').split(',');
    if (!pkg || !why.length || !usedBy.every((u) => USES.includes(u))) {
      throw new Error(`${LIST}:${i + 1}: expected "command package ${USES.join(',')} why", got: ${raw}`);
    }
    tools.push({ command, pkg, usedBy, why: why.join(' ') });
  }
  return tools;
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** True when `command` (a name looked up on PATH and in sbin, or an absolute path) exists. */
function present(command, searchPath) {
  if (command.startsWith('/')) return isExecutable(command);
  const dirs = [...searchPath.split(':').filter(Boolean), ...SBIN_DIRS];
  return dirs.some((dir) => isExecutable(path.join(dir, command)));
}

function missingTools(tools) {
  return tools.filter((t) => !present(t.command, process.env.PATH ?? ''));
}

function packagesOf(tools) {
  return [...new Set(tools.map((t) => t.pkg))];
}

function describe(tools) {
  const width = Math.max(...tools.map((t) => `${t.command} (${t.pkg})`.length));
  return tools.map((t) => `  ${`${t.command} (${t.pkg})`.padEnd(width)}  ${t.why}`).join('\n');
}

function parseArgs(argv) {
  const opts = { check: false, uses: USES };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') opts.check = true;
    else if (arg === '--for' || arg.startsWith('--for=')) {
      const value = arg === '--for' ? argv[++i] : arg.slice('--for='.length);
      const uses = (value ?? '').split(',');
      if (!uses.every((u) => USES.includes(u))) usage(`--for: give some of ${USES.join(',')}, got "${value ?? ''}"`);
      opts.uses = uses;
    } else usage(`unknown argument "${arg}"`);
  }
  return opts;
}

function usage(message) {
  process.stderr.write(`setup-system: ${message}\nusage: node scripts/setup-system.mjs [--for ${USES.join(',')}] [--check]\n`);
  process.exit(2);
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function hasAptGet() {
  return present('apt-get', process.env.PATH ?? '');
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const tools = parseToolList(readFileSync(LIST, 'utf8')).filter((t) => t.usedBy.some((u) => opts.uses.includes(u)));
  const missing = missingTools(tools);
  const forWhat = opts.uses.join(', ');
  if (!missing.length) {
    if (opts.check) process.stdout.write(`vstun: all ${tools.length} system tools for ${forWhat} are present\n`);
    return;
  }
  const packages = packagesOf(missing);
  const names = missing.map((t) => t.command).join(' ');
  if (opts.check || !isRoot() || !hasAptGet()) {
    const why = opts.check ? '' : !hasAptGet() ? ' and this machine has no apt-get to install them' : ' and only root can install them';
    process.stderr.write(`vstun: missing system tools for ${forWhat}${why}: ${names}\n${describe(missing)}\n`);
    process.stderr.write(hasAptGet() ? `install them with:\n  ${isRoot() ? '' : 'sudo '}${APT_INSTALL} ${packages.join(' ')}\n` : `install the equivalents of these Debian packages: ${packages.join(' ')}\n`);
    process.exit(1);
  }

  process.stdout.write(`vstun: installing the Debian packages of the system tools ${forWhat} need${missing.length > 1 ? '' : 's'}:\n${describe(missing)}\n`);
  // Non-interactive: tshark's package asks whether non-root users may capture; take the default (no).
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
    process.stdout.write(`+ apt-get ${args.join(' ')}\n`);
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) {
      process.stderr.write(`vstun: apt-get ${args[0]} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}); the missing tools are: ${names}\n`);
      process.exit(1);
    }
  }
  const still = missingTools(missing);
  if (still.length) {
    process.stderr.write(`vstun: installed ${packages.join(' ')}, but these commands are still not on PATH (${process.env.PATH}): ${still.map((t) => t.command).join(' ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`vstun: installed ${packages.join(' ')}\n`);
}

main();
