/**
 * Run baresip (Debian package, 1.0.0) as a real SIP user agent against a server on loopback.
 * Each instance gets its own config directory (config, accounts, contacts) in a temp dir, sends a
 * sine (module ausine) as its microphone, and records both directions of every call to WAV with
 * the sndfile module. Commands (/dial, /hangup, ...) go to its UDP console (module cons).
 * Every request goes through the server as outbound proxy, so the account's domain needs no DNS.
 * Tests run inside a private network namespace (scripts/test.sh), so baresip reaches nothing
 * but 127.0.0.1; dns_server points at loopback too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BARESIP = process.env.BARESIP ?? 'baresip';
const MODULE_PATH = '/usr/lib/baresip/modules';

/** Throws a clear error unless baresip is installed (scripts/setup.sh --test installs it). */
export function requireBaresip(): void {
  const r = spawnSync(BARESIP, ['-h'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || !/baresip v\d/.test(`${r.stdout}${r.stderr}`)) {
    throw new Error(`baresip is not installed or does not run (${r.error?.message ?? r.stderr.trim()}); run scripts/setup.sh --test (apt-get install baresip)`);
  }
}

export interface BaresipOptions {
  /** Label used in logs and for the audio bridge device. */
  name: string;
  user: string;
  password: string;
  /** The SIP domain of the account (the registrar's domain). */
  domain: string;
  /** Outbound proxy every request is sent through (loose route). */
  proxy: { host: string; port: number };
  transport: 'udp' | 'tcp';
  /** SIP listen port (UDP and TCP); baresip also takes the next port for SIP over TLS. */
  sipPort: number;
  /** RTP/RTCP port range, first..last (inclusive). */
  rtpPorts: [number, number];
  /** Port of the command console (module cons, listens on UDP and TCP). */
  consolePort: number;
  /** Answer incoming calls at once. */
  autoAnswer?: boolean;
  /** Frequency of the sine sent as microphone audio. */
  toneHz?: number;
  /** Registration interval in seconds. */
  regint?: number;
  /** Print SIP messages (sip_trace) to stdout. */
  sipTrace?: boolean;
  /** Media encryption (account mediaenc): srtp = SDES keys in RTP/AVP offers, srtp-mand = RTP/SAVP only. */
  mediaenc?: 'srtp' | 'srtp-mand';
  /** Account audio_codecs (default pcmu). */
  audioCodecs?: string;
  /** Send and receive VP8 video from a fake camera (module fakevideo) as well. */
  video?: boolean;
}

export class Baresip {
  readonly name: string;
  readonly dir: string;
  readonly recordDir: string;
  readonly #child: ChildProcess;
  readonly #consolePort: number;
  readonly #exited: Promise<number | null>;
  #out = '';
  #waiters = new Set<() => void>();

  private constructor(o: BaresipOptions) {
    this.name = o.name;
    this.#consolePort = o.consolePort;
    this.dir = mkdtempSync(join(tmpdir(), `baresip-${o.name}-`));
    this.recordDir = join(this.dir, 'wav');
    mkdirSync(this.recordDir);
    writeConfig(this.dir, this.recordDir, o);
    const args = ['-f', this.dir];
    if (o.sipTrace) args.push('-s');
    this.#child = spawn(BARESIP, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir });
    const onData = (d: Buffer): void => {
      this.#out += d.toString();
      for (const w of this.#waiters) w();
    };
    this.#child.stdout!.on('data', onData);
    this.#child.stderr!.on('data', onData);
    this.#exited = new Promise((res) => {
      this.#child.on('exit', (code, signal) => {
        this.#out += `\n[${this.name} exited: code ${code} signal ${signal}]\n`;
        for (const w of this.#waiters) w();
        res(code);
      });
      this.#child.on('error', (e) => {
        this.#out += `\n[${this.name} failed to start: ${e.message}]\n`;
        res(null);
      });
    });
  }

  /** Start baresip and wait until its console is listening. */
  static async start(o: BaresipOptions): Promise<Baresip> {
    const b = new Baresip(o);
    try {
      await b.waitFor(/baresip is ready/, 10_000);
    } catch (e) {
      await b.stop();
      b.cleanup();
      throw e;
    }
    return b;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Everything baresip printed so far. */
  get output(): string {
    return this.#out;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /**
   * Wait until the output after character offset `from` matches `re`; resolves with the match.
   * Rejects at once if it matches `failure` first, and on timeout or exit, with the output's tail.
   */
  waitFor(re: RegExp, timeoutMs: number, from = 0, failure?: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const out = this.#out.slice(from);
        const m = out.match(re);
        if (m) return done(() => resolve(m));
        const f = failure && out.match(failure);
        if (f) return done(() => reject(new Error(`${this.name}: "${f[0]}" while waiting for ${re}:\n${this.tail()}`)));
        if (!this.running) done(() => reject(new Error(`${this.name} exited while waiting for ${re}:\n${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${re}:\n${this.tail()}`))), timeoutMs);
      const done = (f: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        f();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /**
   * Wait for a 200 OK to this instance's REGISTER ("alice@localhost: {0/UDP/v4} 200 OK () [1 binding]");
   * fails at once on baresip's "reg: ...: Register: <error>" or a final failure response.
   */
  waitRegistered(timeoutMs = 8000, from = 0): Promise<RegExpMatchArray> {
    return this.waitFor(/\{\d+\/(?:UDP|TCP)\/v4\} 200 OK .*\[\d+ bindings?\]/, timeoutMs, from, /reg: .*Register: .*|\{\d+\/(?:UDP|TCP)\/v4\} [3-6]\d\d .*/);
  }

  tail(chars = 6000): string {
    return this.#out.slice(-chars);
  }

  /** Send a console command, e.g. "/dial sip:bob@localhost" or "/hangup". */
  async command(cmd: string): Promise<void> {
    const sock = createSocket('udp4');
    try {
      await new Promise<void>((res, rej) => sock.send(`${cmd}\n`, this.#consolePort, '127.0.0.1', (e) => (e ? rej(e) : res())));
    } finally {
      sock.close();
    }
  }

  /**
   * The WAV files sndfile wrote: "-enc" is what this side sent, "-dec" what it received. Files are
   * named by the call's start time to the second, so calls must start at least a second apart.
   */
  recordings(): { sent: string[]; received: string[] } {
    const files = readdirSync(this.recordDir).filter((f) => f.endsWith('.wav')).sort();
    return {
      sent: files.filter((f) => f.endsWith('-enc.wav')).map((f) => join(this.recordDir, f)),
      received: files.filter((f) => f.endsWith('-dec.wav')).map((f) => join(this.recordDir, f)),
    };
  }

  /**
   * Stop this process (by its PID): SIGTERM lets baresip hang up and unregister; SIGKILL after
   * `graceMs`. Returns the exit code.
   */
  async stop(graceMs = 3000): Promise<number | null> {
    if (this.running && this.#child.pid !== undefined) {
      try {
        process.kill(this.#child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        if (this.running && this.#child.pid !== undefined) {
          try {
            process.kill(this.#child.pid, 'SIGKILL');
          } catch {
            /* exited meanwhile */
          }
        }
      }, graceMs);
      await this.#exited;
      clearTimeout(t);
    }
    return this.#exited;
  }

  /** Remove the config directory and recordings. */
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function writeConfig(dir: string, recordDir: string, o: BaresipOptions): void {
  const config = [
    'poll_method epoll',
    `sip_listen 127.0.0.1:${o.sipPort}`,
    'net_interface 127.0.0.1',
    'dns_server 127.0.0.1:53',
    'call_local_timeout 30',
    'call_max_calls 1',
    `audio_source ausine,${o.toneHz ?? 440}`,
    'ausrc_srate 48000',
    'ausrc_channels 2',
    `audio_player aubridge,${o.name}`,
    `audio_alert aubridge,${o.name}`,
    `rtp_ports ${o.rtpPorts[0]}-${o.rtpPorts[1]}`,
    'rtcp_mux no',
    'jitter_buffer_delay 1-10',
    'rtp_stats yes',
    `module_path ${MODULE_PATH}`,
    'module g711.so',
    ...(o.audioCodecs && /g722/.test(o.audioCodecs) ? ['module g722.so'] : []),
    ...(o.audioCodecs && /opus/.test(o.audioCodecs) ? ['module opus.so'] : []),
    ...(o.mediaenc ? ['module srtp.so'] : []),
    ...(o.video ? ['module vp8.so', 'module fakevideo.so', 'video_source fakevideo,nil', 'video_display fakevideo,nil', 'video_size 320x240', 'video_fps 15'] : []),
    'module ausine.so',
    'module aubridge.so',
    'module sndfile.so',
    `snd_path ${recordDir}`,
    'module cons.so',
    `cons_listen 127.0.0.1:${o.consolePort}`,
    'module_tmp account.so',
    'module_app menu.so',
    // No stdio.so (no terminal), no stun/turn/ice: loopback only.
    '',
  ].join('\n');
  writeFileSync(join(dir, 'config'), config);
  const proxy = `sip:${o.proxy.host}:${o.proxy.port};transport=${o.transport}`; // baresip adds ;lr itself
  const params = [
    `auth_pass=${o.password}`,
    `outbound="${proxy}"`,
    `regint=${o.regint ?? 600}`,
    `answermode=${o.autoAnswer ? 'auto' : 'manual'}`,
    `audio_codecs=${o.audioCodecs ?? 'pcmu'}`,
    ...(o.video ? ['video_codecs=vp8'] : []),
    ...(o.mediaenc ? [`mediaenc=${o.mediaenc}`] : []),
  ];
  writeFileSync(join(dir, 'accounts'), `<sip:${o.user}@${o.domain};transport=${o.transport}>;${params.join(';')}\n`);
  writeFileSync(join(dir, 'contacts'), '');
}
