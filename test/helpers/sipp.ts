/**
 * Run sipp (Debian package sip-tester) against a server on loopback. Tests run inside a private
 * network namespace (scripts/test.sh), so sipp reaches nothing but 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const SCENARIOS = resolve(import.meta.dirname, '../sipp');

export interface SippOptions {
  scenario: string;
  target: string;
  transport: 'udp' | 'tcp';
  localPort: number;
  /** Injection file rows, "user;password". */
  users?: [string, string][];
  keys?: Record<string, string>;
  calls?: number;
  rate?: number;
  timeoutS?: number;
  extra?: string[];
}

export interface SippResult {
  code: number | null;
  successful: number;
  failed: number;
  errors: string;
  screen: string;
}

function args(o: SippOptions, dir: string): string[] {
  const a = ['-sf', join(SCENARIOS, o.scenario), '-i', '127.0.0.1', '-p', String(o.localPort), '-t', o.transport === 'udp' ? 'u1' : 't1'];
  if (o.users) {
    const inf = join(dir, 'users.csv');
    writeFileSync(inf, ['SEQUENTIAL', ...o.users.map(([u, p]) => `${u};${p}`)].join('\n') + '\n');
    a.push('-inf', inf);
  }
  for (const [k, v] of Object.entries(o.keys ?? {})) a.push('-key', k, v);
  a.push('-m', String(o.calls ?? 1), '-r', String(o.rate ?? 10), '-nostdin', '-timeout', `${o.timeoutS ?? 20}s`);
  a.push('-trace_err', '-error_file', join(dir, 'errors.log'), '-trace_screen', '-screen_file', join(dir, 'screen.log'));
  a.push('-trace_stat', '-stf', join(dir, 'stat.csv'), '-fd', '1');
  a.push(...(o.extra ?? []), o.target);
  return a;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function statField(csv: string, name: string): number {
  const lines = csv.trim().split('\n');
  if (lines.length < 2) return 0;
  const head = lines[0]!.split(';');
  const last = lines.at(-1)!.split(';');
  const i = head.indexOf(name);
  return i < 0 ? 0 : Number(last[i]);
}

/** Run a client scenario to completion. */
export async function runSipp(o: SippOptions): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const child = spawn('sipp', args(o, dir), { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return result(dir, code, stderr);
}

/**
 * sipp's error file without its watchdog lines: "Overload warning: the minor watchdog timer ... has
 * been tripped" says that sipp itself did not get the CPU for a while (a busy machine), not that
 * the server misbehaved; failed calls and unexpected messages are still in the file, and in the
 * statistics the tests check.
 */
export function peerErrors(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !/Overload warning: the (minor|major) watchdog timer/.test(l));
  return lines.length === 0 || (lines.length === 1 && lines[0]!.startsWith('The following events occurred')) ? '' : lines.join('\n');
}

/** What a finished sipp run left in its directory. */
function result(dir: string, code: number | null, stderr: string): SippResult {
  const stat = read(join(dir, 'stat.csv'));
  return {
    code,
    successful: statField(stat, 'SuccessfulCall(C)'),
    failed: statField(stat, 'FailedCall(C)'),
    errors: peerErrors(read(join(dir, 'errors.log'))).slice(-4000),
    screen: (read(join(dir, 'screen.log')) + stderr).slice(-4000),
  };
}

/** Start a long-running scenario (a UAS); stop() ends it and returns its result. */
export function startSipp(o: SippOptions): { child: ChildProcess; stop(): Promise<SippResult> } {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-uas-'));
  const child = spawn('sipp', args(o, dir), { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return {
    child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGUSR1'); // sipp's soft exit: dumps its stats
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return result(dir, code, stderr);
    },
  };
}
