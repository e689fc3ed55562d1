#!/usr/bin/env node
/**
 * The `sotto` command: start the server and manage accounts. Accounts are a username and a
 * password, nothing else; only digest hashes of the password are stored.
 */
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { SottoError, UsageError } from './errors.ts';

const HELP = `Sotto: private voice and video calling (SIP registrar and proxy)

Usage:
  sotto start [--config FILE]             start the server
  sotto user add NAME [--generate]        create an account (asks for the password)
  sotto user passwd NAME [--generate]     set a new password
  sotto user remove NAME                  delete an account
  sotto user list                         list account names
  sotto --help | --version

Options:
  -c, --config FILE   YAML config file (default: $SOTTO_CONFIG, else ./sotto.yaml if present,
                      else built-in defaults: everything on 127.0.0.1)
  --generate          make a random password and print it once, instead of asking
  --password-stdin    read the password from the first line of standard input

Environment: SOTTO_* overrides any config key, "__" between levels, e.g.
  SOTTO_DOMAIN=example.org SOTTO_SIP__UDP__PORT=5070 SOTTO_LOG__LEVEL=debug
See deploy/sotto.example.yaml for every key.`;

function configPath(flag: string | undefined): string | undefined {
  if (flag) return flag;
  if (process.env.SOTTO_CONFIG) return process.env.SOTTO_CONFIG;
  return existsSync('sotto.yaml') ? 'sotto.yaml' : undefined;
}

async function readPassword(opts: { generate?: boolean; stdin?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (opts.generate) return { password: randomBytes(15).toString('base64url'), generated: true };
  if (opts.stdin || !process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return { password: line, generated: false };
    }
    throw new UsageError('no password on standard input');
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Repeat password: ');
  if (first !== second) throw new UsageError('the passwords do not match');
  return { password: first, generated: false };
}

/** Read a line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new UsageError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

function checkPassword(pw: string): void {
  if (pw.length < 8) throw new UsageError('the password must have at least 8 characters');
  if (pw.length > 256) throw new UsageError('the password must have at most 256 characters');
}

async function userCommand(cfg: Config, args: string[], flags: { generate?: boolean; stdin?: boolean }): Promise<void> {
  const [sub, name, ...extra] = args;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const { openUserStore } = await import('./store/open.ts');
  const { validateUsername, UserStoreError } = await import('./store/user-store.ts');
  const { users: store, close } = openUserStore(cfg);
  try {
    switch (sub) {
      case 'list': {
        for (const u of store.listUsers()) process.stdout.write(`${u.username}\n`);
        return;
      }
      case 'add':
      case 'passwd': {
        if (!name) throw new UsageError(`usage: sotto user ${sub} NAME`);
        if (sub === 'add') validateUsername(name);
        if (sub === 'passwd' && !store.hasUser(name)) throw new UsageError(`no user '${name}'`);
        if (sub === 'add' && store.hasUser(name)) throw new UsageError(`user '${name}' already exists`);
        const { password, generated } = await readPassword(flags);
        checkPassword(password);
        if (sub === 'add') store.addUser(name, password);
        else store.setPassword(name, password);
        process.stderr.write(sub === 'add' ? `added user '${name}'\n` : `password of '${name}' changed\n`);
        if (generated) process.stdout.write(`${password}\n`);
        return;
      }
      case 'remove': {
        if (!name) throw new UsageError('usage: sotto user remove NAME');
        if (!store.hasUser(name)) throw new UsageError(`no user '${name}'`);
        store.removeUser(name);
        process.stderr.write(`removed user '${name}'\n`);
        return;
      }
      default:
        throw new UsageError(sub ? `unknown user command '${sub}' (add, passwd, remove, list)` : 'usage: sotto user add|passwd|remove|list');
    }
  } catch (err) {
    if (err instanceof UserStoreError) throw new UsageError(err.message);
    throw err;
  } finally {
    close();
  }
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
        generate: { type: 'boolean' },
        'password-stdin': { type: 'boolean' },
      },
    });
  } catch (err) {
    process.stderr.write(`sotto: ${(err as Error).message}\nTry 'sotto --help'.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`sotto ${pkg.version}\n`);
    return 0;
  }
  const [cmd, ...rest] = positionals;
  try {
    if (!cmd) throw new UsageError('no command given');
    const cfg = loadConfig({ file: configPath(values.config) });
    switch (cmd) {
      case 'start': {
        if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
        const { startServer } = await import('./main.ts');
        await startServer(cfg);
        return -1; // keep running
      }
      case 'user':
      case 'users':
        await userCommand(cfg, rest, { generate: values.generate ?? false, stdin: values['password-stdin'] ?? false });
        return 0;
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sotto: ${err.message}\nTry 'sotto --help'.\n`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof SottoError) {
      process.stderr.write(`sotto: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
}
