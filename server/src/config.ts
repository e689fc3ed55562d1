/**
 * Configuration: embedded defaults, then an optional YAML file, then SOTTO_* environment
 * variables, validated once at start with messages that name the offending key.
 *
 * Environment overrides use the config path in upper case with "__" between levels:
 * SOTTO_DOMAIN=example.org, SOTTO_SIP__UDP__PORT=5070, SOTTO_LOG__LEVEL=debug.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const listener = z.strictObject({ enabled: z.boolean(), port });

const schema = z.strictObject({
  /** SIP domain served by the registrar; also the digest realm. */
  domain: z.string().min(1).regex(/^[A-Za-z0-9.\-]+$/, 'must be a host name or IPv4 address'),
  /** Other names and addresses that mean "this server" in Request-URIs (loop detection, §16.4). */
  aliases: z.array(z.string().min(1)).default([]),
  /** Where the database and generated files live; relative paths are taken from the working directory. */
  dataDir: z.string().min(1),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    /** Print usernames and addresses in logs as they are. Off: they are replaced by short pseudonyms. */
    identities: z.boolean(),
  }),
  sip: z.strictObject({
    /** Address the UDP, TCP and TLS listeners bind to. */
    listen: z.string().min(1),
    /** Host put in Via and Record-Route; defaults to the listen address. */
    advertise: z.string().min(1).optional(),
    udp: listener,
    tcp: listener,
    tls: listener,
    /** Close TCP/TLS/WS connections idle this long with no registration bound to them (s). */
    idleTimeout: z.number().int().positive(),
    /**
     * SIP worker processes: 1 runs everything in one process; "auto" starts one per core (the
     * workers share the SIP ports, each call is handled by one of them).
     */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(64)]),
  }),
  http: z.strictObject({
    listen: z.string().min(1),
    /** Plain HTTP with SIP over WS (RFC 7118); for local testing and reverse proxies. */
    http: listener,
    /** HTTPS: web client, admin API, and SIP over WSS. */
    https: listener,
  }),
  tls: z.strictObject({
    cert: z.string().min(1),
    key: z.string().min(1),
  }),
  registrar: z.strictObject({
    minExpires: z.number().int().positive(),
    maxExpires: z.number().int().positive(),
    defaultExpires: z.number().int().positive(),
    maxContactsPerAor: z.number().int().positive(),
  }),
  auth: z.strictObject({
    nonceTtl: z.number().int().positive(),
    /**
     * Digest algorithms offered, one challenge each, in this order (RFC 8760 §2.4: a UA uses the
     * first it supports). Not every UA does; see deploy/sotto.example.yaml for the ones measured.
     */
    algorithms: z.array(z.enum(['SHA-256', 'SHA-512-256', 'MD5'])).min(1),
  }),
  security: z.strictObject({
    /** Requests per second allowed from one source address, with a burst allowance. */
    rateLimit: z.strictObject({ perSecond: z.number().positive(), burst: z.number().positive() }),
    /** Temporary ban after repeated authentication failures from one source. */
    ban: z.strictObject({
      failures: z.number().int().positive(),
      windowSeconds: z.number().int().positive(),
      banSeconds: z.number().int().positive(),
      exemptLoopback: z.boolean(),
    }),
  }),
  limits: z.strictObject({
    maxMessageBytes: z.number().int().min(1024).max(1 << 20),
    maxHeaders: z.number().int().min(16).max(1000),
    maxConnections: z.number().int().positive(),
  }),
  /** Group calls: the mediasoup SFU and its room signalling (sfu/). */
  sfu: z.strictObject({
    enabled: z.boolean(),
    /** mediasoup worker processes; "auto" = one per core. Started with the first room. */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(64)]),
    /** Address the media ports bind to, and the address put in ICE candidates if different. */
    listen: z.string().min(1),
    announcedIp: z.string().min(1).optional(),
    /** WebRTC media port (UDP and TCP) of the first worker; worker i uses port + i. */
    port,
    /** Ports for other media transports (RTP taps, worker-to-worker pipes). */
    rtcMinPort: port,
    rtcMaxPort: port,
    maxRooms: z.number().int().positive(),
    /**
     * Consumers (streams forwarded to one receiver) at which a worker counts as full: a room's
     * newcomers then go to a router of that room on another worker, with the media piped between
     * them (sfu/src/placement.ts). bench:sfu measured ≥ 500 per worker at ≤ 80 % of a core.
     */
    maxConsumersPerWorker: z.number().int().positive(),
    /** Participant limit of a room whose creator chose none, and the largest a creator may choose. */
    maxParticipants: z.number().int().min(2),
    maxParticipantsLimit: z.number().int().min(2).max(1000),
    /** Close a room empty for this long (s). */
    roomIdleTimeout: z.number().int().positive(),
    /** Lifetime of a web client's group-call session token (s). */
    sessionTtl: z.number().int().min(60).max(86400),
    /** mediasoup worker log level (to stderr). */
    logLevel: z.enum(['debug', 'warn', 'error', 'none']),
  }),
  /**
   * The media bridge for calls between browsers (WebRTC) and SIP phones (RTP, SDES-SRTP): the
   * proxy anchors their media on mediasoup (server/src/media). Calls between two browsers or two
   * phones never touch it.
   */
  bridge: z.strictObject({
    enabled: z.boolean(),
    /** mediasoup worker processes per SIP process, started on the first bridged call. */
    workers: z.number().int().min(1).max(64),
    /** Address media ports bind to, and the address written in SDP and ICE candidates if different. */
    listen: z.string().min(1),
    announcedIp: z.string().min(1).optional(),
    /** Media ports (each call takes one or two toward the browser and two per stream toward the phone). */
    rtcMinPort: port,
    rtcMaxPort: port,
    /** Also offer browsers ICE over TCP (RFC 6544) for networks that block UDP. */
    webrtcTcp: z.boolean(),
    /** Learn a phone's media address from its first packet (NAT): auto = when its SIP says it is behind NAT. */
    comedia: z.enum(['auto', 'always', 'never']),
    /**
     * Offering to a phone: optional = RTP/AVP with a=crypto (opportunistic SRTP, RFC 8643), plain RTP
     * if the phone answers without keys; required = RTP/SAVP only (RFC 4568); off = plain RTP.
     */
    phoneSrtp: z.enum(['optional', 'required', 'off']),
    /** Release a bridged call whose media stopped for this long (s); while on hold, holdTimeout. */
    mediaTimeout: z.number().int().positive(),
    holdTimeout: z.number().int().positive(),
    /** Bridged calls at once per SIP process; more get 503. */
    maxCalls: z.number().int().positive(),
    logLevel: z.enum(['debug', 'warn', 'error', 'none']),
  }),
});

export type Config = z.infer<typeof schema>;

/** Safe defaults: everything on localhost, so a fresh start exposes nothing to the network. */
export const DEFAULTS: Config = {
  domain: 'localhost',
  aliases: [],
  dataDir: 'var',
  log: { level: 'info', identities: false },
  sip: {
    listen: '127.0.0.1',
    udp: { enabled: true, port: 5060 },
    tcp: { enabled: true, port: 5060 },
    tls: { enabled: true, port: 5061 },
    idleTimeout: 300,
    workers: 1,
  },
  http: {
    listen: '127.0.0.1',
    http: { enabled: true, port: 8080 },
    https: { enabled: true, port: 8443 },
  },
  tls: { cert: 'var/tls/localhost.crt', key: 'var/tls/localhost.key' },
  registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 3600, maxContactsPerAor: 10 },
  auth: { nonceTtl: 300, algorithms: ['SHA-256', 'MD5'] },
  security: {
    rateLimit: { perSecond: 200, burst: 400 },
    ban: { failures: 10, windowSeconds: 60, banSeconds: 300, exemptLoopback: false },
  },
  limits: { maxMessageBytes: 65535, maxHeaders: 100, maxConnections: 10000 },
  sfu: {
    enabled: true,
    workers: 'auto',
    listen: '127.0.0.1',
    port: 40000,
    rtcMinPort: 40100,
    rtcMaxPort: 40999,
    maxRooms: 100,
    maxConsumersPerWorker: 500,
    maxParticipants: 16,
    maxParticipantsLimit: 50,
    roomIdleTimeout: 300,
    sessionTtl: 3600,
    logLevel: 'warn',
  },
  bridge: {
    enabled: true,
    workers: 1,
    listen: '127.0.0.1',
    rtcMinPort: 42000,
    rtcMaxPort: 49999,
    webrtcTcp: true,
    comedia: 'auto',
    phoneSrtp: 'optional',
    mediaTimeout: 60,
    holdTimeout: 3600,
    maxCalls: 1000,
    logLevel: 'warn',
  },
};

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'SOTTO_ERR_CONFIG';
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlain(v) && isPlain(out[k]) ? merge(out[k] as Plain, v) : v;
  return out;
}

/** Turn SOTTO_A__B_C=value into { a: { bC: value } }, with values parsed as YAML scalars (numbers, booleans, lists). */
function fromEnv(env: NodeJS.ProcessEnv): Plain {
  const out: Plain = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('SOTTO_') || name.startsWith('SOTTO_INTERNAL_') || raw === undefined) continue;
    const path = name
      .slice(6)
      .split('__')
      .map((seg) => seg.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
    if (path.some((p) => !p)) continue;
    let node = out;
    for (const seg of path.slice(0, -1)) node = (isPlain(node[seg]) ? node[seg] : (node[seg] = {})) as Plain;
    let value: unknown;
    try {
      value = parseYaml(raw);
    } catch {
      value = raw;
    }
    node[path.at(-1)!] = value ?? raw;
  }
  return out;
}

export interface LoadOptions {
  /** Path of a YAML config file; missing → defaults only. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides applied last (tests). */
  overrides?: Plain;
  /** Base for relative paths (dataDir, tls); default: the working directory. */
  cwd?: string;
}

/** Load and validate the configuration. Throws ConfigError listing every problem found. */
export function loadConfig(opts: LoadOptions = {}): Config {
  let fileValues: Plain = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError(`config file ${opts.file} is not valid YAML: ${(err as Error).message}`);
    }
    if (parsed != null && !isPlain(parsed)) throw new ConfigError(`config file ${opts.file} must hold a mapping at the top level`);
    fileValues = (parsed as Plain | null) ?? {};
  }
  const merged = merge(merge(merge(DEFAULTS as unknown as Plain, fileValues), fromEnv(opts.env ?? process.env)), opts.overrides ?? {});
  const result = schema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration${opts.file ? ` (${opts.file} and SOTTO_* environment)` : ''}:\n${lines.join('\n')}`);
  }
  const cfg = result.data;
  const cwd = opts.cwd ?? process.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  cfg.dataDir = abs(cfg.dataDir);
  cfg.tls = { cert: abs(cfg.tls.cert), key: abs(cfg.tls.key) };
  const r = cfg.registrar;
  if (r.minExpires > r.maxExpires) throw new ConfigError('invalid configuration:\n  registrar.minExpires: must not exceed registrar.maxExpires');
  if (r.defaultExpires < r.minExpires || r.defaultExpires > r.maxExpires)
    throw new ConfigError('invalid configuration:\n  registrar.defaultExpires: must lie between minExpires and maxExpires');
  const sfu = cfg.sfu;
  if (sfu.rtcMinPort > sfu.rtcMaxPort) throw new ConfigError('invalid configuration:\n  sfu.rtcMinPort: must not exceed sfu.rtcMaxPort');
  if (sfu.maxParticipants > sfu.maxParticipantsLimit) throw new ConfigError('invalid configuration:\n  sfu.maxParticipants: must not exceed sfu.maxParticipantsLimit');
  if (cfg.bridge.rtcMinPort > cfg.bridge.rtcMaxPort) throw new ConfigError('invalid configuration:\n  bridge.rtcMinPort: must not exceed bridge.rtcMaxPort');
  return cfg;
}
