/**
 * What the page remembers between visits: the call history and the contacts. Pure data and the
 * rules for them (newest first, bounded length, validated contacts); storage/vault.ts encrypts
 * them and storage/idb-store.ts keeps them in IndexedDB.
 */
import type { EndReason } from '../sip/call-state.ts';
import { parseDialTarget } from '../sip/dial-target.ts';

export type Outcome = 'answered' | 'missed' | 'declined' | 'busy' | 'cancelled' | 'unanswered' | 'failed';

export interface HistoryEntry {
  id: string;
  /** When the call began (ms since epoch). */
  at: number;
  direction: 'incoming' | 'outgoing';
  /** What was shown for the other side ("Anonymous" for anonymous callers). */
  label: string;
  /** Their address, to call back; empty for anonymous callers. */
  uri: string;
  video: boolean;
  /** Talk time (ms), 0 when not answered. */
  durationMs: number;
  outcome: Outcome;
  /** Why the call was declined, when it was not the user's doing. */
  why?: 'e2ee-required';
}

export interface Contact {
  id: string;
  name: string;
  /** sip:user@host */
  uri: string;
}

export interface Records {
  version: 1;
  history: HistoryEntry[];
  contacts: Contact[];
}

export const EMPTY_RECORDS: Records = { version: 1, history: [], contacts: [] };

/** History is capped: old calls fall off (privacy and storage both prefer forgetting). */
export const MAX_HISTORY = 200;

export interface EndedCall {
  direction: 'incoming' | 'outgoing';
  label: string;
  uri: string;
  video: boolean;
  createdAt: number;
  connectedAt: number | undefined;
  endedAt: number;
  endReason: EndReason;
}

/** How an ended call is remembered. */
export function outcomeOf(c: Pick<EndedCall, 'direction' | 'connectedAt' | 'endReason'>): Outcome {
  if (c.connectedAt !== undefined) return 'answered';
  if (c.endReason === 'busy') return c.direction === 'incoming' ? 'missed' : 'busy';
  if (c.direction === 'incoming') return c.endReason === 'declined' || c.endReason === 'e2ee-required' ? 'declined' : 'missed';
  if (c.endReason === 'cancelled') return 'cancelled';
  if (c.endReason === 'declined') return 'declined';
  if (c.endReason === 'unavailable' || c.endReason === 'no-answer') return 'unanswered';
  return 'failed';
}

export function historyEntry(c: EndedCall, id: string): HistoryEntry {
  return {
    id,
    at: c.createdAt,
    direction: c.direction,
    label: c.label,
    uri: c.uri,
    video: c.video,
    durationMs: c.connectedAt !== undefined ? Math.max(0, c.endedAt - c.connectedAt) : 0,
    outcome: outcomeOf(c),
    ...(c.endReason === 'e2ee-required' ? { why: 'e2ee-required' as const } : {}),
  };
}

/** Newest first, at most MAX_HISTORY entries, no duplicate ids. */
export function addHistory(records: Records, entry: HistoryEntry): Records {
  const history = [entry, ...records.history.filter((e) => e.id !== entry.id)].sort((a, b) => b.at - a.at).slice(0, MAX_HISTORY);
  return { ...records, history };
}

export type ContactInput = { ok: true; contact: Contact } | { ok: false; error: string };

export function makeContact(name: string, address: string, domain: string, id: string): ContactInput {
  const n = name.trim().replace(/\s+/g, ' ');
  if (!n) return { ok: false, error: 'Give the contact a name.' };
  if (n.length > 64) return { ok: false, error: 'That name is too long (64 characters at most).' };
  const t = parseDialTarget(address, domain);
  if (!t.ok) return { ok: false, error: t.error };
  return { ok: true, contact: { id, name: n, uri: t.uri } };
}

/** Sorted by name; a contact with the same address replaces the old one. */
export function addContact(records: Records, c: Contact): Records {
  const contacts = [...records.contacts.filter((x) => x.uri !== c.uri && x.id !== c.id), c].sort((a, b) => a.name.localeCompare(b.name));
  return { ...records, contacts };
}

export function removeContact(records: Records, id: string): Records {
  return { ...records, contacts: records.contacts.filter((c) => c.id !== id) };
}

/** Parse stored records defensively: anything malformed is dropped, not trusted. */
export function parseRecords(json: string): Records {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return EMPTY_RECORDS;
  }
  if (!v || typeof v !== 'object' || (v as { version?: unknown }).version !== 1) return EMPTY_RECORDS;
  const r = v as { history?: unknown; contacts?: unknown };
  const str = (x: unknown): x is string => typeof x === 'string';
  const history = (Array.isArray(r.history) ? r.history : []).filter(
    (e): e is HistoryEntry =>
      !!e && str(e.id) && typeof e.at === 'number' && (e.direction === 'incoming' || e.direction === 'outgoing') && str(e.label) && str(e.uri) && typeof e.durationMs === 'number' && str(e.outcome),
  );
  const contacts = (Array.isArray(r.contacts) ? r.contacts : []).filter((c): c is Contact => !!c && str(c.id) && str(c.name) && str(c.uri));
  return { version: 1, history: history.slice(0, MAX_HISTORY), contacts };
}
