/**
 * Row ids → JetStream KV keys. A KV key is a NATS subject (tokens of `[-_=A-Za-z0-9]` separated by `.`), while ids are
 * any text (user-chosen names, UUIDs, `a.b`, unicode). Each id becomes one token: bytes of `[-_A-Za-z0-9]` stay, every
 * other UTF-8 byte is `=XX` (upper-case hex), and the empty id is a lone `=` (never produced otherwise: an escape is
 * always three characters). Composite keys (models: user, version) are their parts' tokens joined by `.`.
 */
const PLAIN = /^[-_A-Za-z0-9]$/;

export function escapeKeyPart(id: string): string {
  if (id === '') return '=';
  let out = '';
  for (const byte of Buffer.from(id, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && PLAIN.test(ch) ? ch : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export class BadKvKeyError extends Error {}

export function unescapeKeyPart(token: string): string {
  if (token === '=') return '';
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token[i];
    if (ch === '=') {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new BadKvKeyError(`bad escape in KV key token ${JSON.stringify(token)}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (PLAIN.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      throw new BadKvKeyError(`bad character in KV key token ${JSON.stringify(token)}`);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The key of a row whose primary key is `parts` (in the table's primary-key column order). */
export function encodeKey(parts: readonly (string | number)[]): string {
  return parts.map((p) => escapeKeyPart(String(p))).join('.');
}

export function decodeKey(key: string): string[] {
  return key.split('.').map(unescapeKeyPart);
}
