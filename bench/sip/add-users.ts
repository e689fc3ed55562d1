/**
 * Create the benchmark accounts in Sotto's user store in one process (one `sotto user add` per
 * account would start Node 10 000 times). The accounts come from sipp injection files
 * ("SEQUENTIAL" header, then "user;password" lines), so sipp and Sotto use the same passwords.
 *
 * usage: node bench/sip/add-users.ts FILE.csv...   (configuration from SOTTO_* as for `sotto start`)
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../server/src/config.ts';
import { openUserStore } from '../../server/src/store/open.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node bench/sip/add-users.ts FILE.csv...\n');
  process.exit(2);
}

const { users, close } = openUserStore(loadConfig());
let added = 0;
let kept = 0;
try {
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [name, password] = line.trim().split(';');
      if (!name || password === undefined) continue; // header ("SEQUENTIAL") and blank lines
      if (users.hasUser(name)) {
        users.setPassword(name, password);
        kept++;
      } else {
        users.addUser(name, password);
        added++;
      }
    }
  }
} finally {
  close();
}
process.stderr.write(`add-users: ${added} added, ${kept} already there (password set again), realm ${users.realm}\n`);
