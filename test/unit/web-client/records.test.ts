/** History and contacts as stored (web-client/src/storage/records.ts). */
import { describe, expect, it } from 'vitest';
import { addContact, addHistory, EMPTY_RECORDS, historyEntry, makeContact, MAX_HISTORY, outcomeOf, parseRecords, removeContact, type EndedCall } from '../../../web-client/src/storage/records.ts';

const ended = (o: Partial<EndedCall>): EndedCall => ({
  direction: 'outgoing',
  label: 'bob',
  uri: 'sip:bob@example.org',
  video: false,
  createdAt: 1000,
  connectedAt: undefined,
  endedAt: 5000,
  endReason: 'hung-up',
  ...o,
});

describe('outcomeOf', () => {
  it.each<[Partial<EndedCall>, string]>([
    [{ connectedAt: 2000 }, 'answered'],
    [{ direction: 'incoming', endReason: 'cancelled' }, 'missed'],
    [{ direction: 'incoming', endReason: 'busy' }, 'missed'],
    [{ direction: 'incoming', endReason: 'declined' }, 'declined'],
    [{ endReason: 'busy' }, 'busy'],
    [{ endReason: 'declined' }, 'declined'],
    [{ endReason: 'cancelled' }, 'cancelled'],
    [{ endReason: 'unavailable' }, 'unanswered'],
    [{ endReason: 'not-found' }, 'failed'],
  ])('%j → %s', (c, outcome) => {
    expect(outcomeOf(ended(c))).toBe(outcome);
  });
});

describe('history', () => {
  it('records talk time only for answered calls', () => {
    expect(historyEntry(ended({ connectedAt: 2000 }), 'h1')).toMatchObject({ id: 'h1', at: 1000, durationMs: 3000, outcome: 'answered' });
    expect(historyEntry(ended({}), 'h2').durationMs).toBe(0);
  });

  it('keeps the newest first and forgets beyond the cap', () => {
    let r = EMPTY_RECORDS;
    for (let i = 0; i < MAX_HISTORY + 5; i++) r = addHistory(r, historyEntry(ended({ createdAt: i }), `h${i}`));
    expect(r.history).toHaveLength(MAX_HISTORY);
    expect(r.history[0]!.id).toBe(`h${MAX_HISTORY + 4}`);
    expect(r.history.at(-1)!.id).toBe('h5');
  });
});

describe('contacts', () => {
  it('validates and normalizes', () => {
    expect(makeContact('  Bob  Builder ', 'bob', 'example.org', 'c1')).toEqual({ ok: true, contact: { id: 'c1', name: 'Bob Builder', uri: 'sip:bob@example.org' } });
    expect(makeContact('', 'bob', 'example.org', 'c1')).toMatchObject({ ok: false, error: /name/ });
    expect(makeContact('Bob', 'bob smith', 'example.org', 'c1')).toMatchObject({ ok: false });
  });

  it('sorts by name, replaces the same address, removes by id', () => {
    let r = addContact(EMPTY_RECORDS, { id: '1', name: 'Zed', uri: 'sip:z@x' });
    r = addContact(r, { id: '2', name: 'Amy', uri: 'sip:a@x' });
    r = addContact(r, { id: '3', name: 'Amy B', uri: 'sip:a@x' });
    expect(r.contacts.map((c) => c.name)).toEqual(['Amy B', 'Zed']);
    expect(removeContact(r, '1').contacts.map((c) => c.id)).toEqual(['3']);
  });
});

describe('parseRecords', () => {
  it('round-trips valid records', () => {
    const r = addContact(addHistory(EMPTY_RECORDS, historyEntry(ended({}), 'h')), { id: 'c', name: 'C', uri: 'sip:c@x' });
    expect(parseRecords(JSON.stringify(r))).toEqual(r);
  });
  it.each(['', 'null', '{"version":2}', '[]', 'not json'])('treats %j as empty', (json) => {
    expect(parseRecords(json)).toEqual(EMPTY_RECORDS);
  });
  it('drops malformed entries', () => {
    const r = parseRecords(JSON.stringify({ version: 1, history: [{ id: 1 }, null], contacts: [{ id: 'c', name: 'C', uri: 'sip:c@x' }, { id: 'd' }] }));
    expect(r.history).toEqual([]);
    expect(r.contacts).toEqual([{ id: 'c', name: 'C', uri: 'sip:c@x' }]);
  });
});
