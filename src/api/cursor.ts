// Opaque page cursors: the parts of a keyset position, base64url-encoded. A cursor that does not
// decode to the expected shape is the caller's mistake (400), never a query error.
export function encodeCursor(parts: string[]): string {
  return Buffer.from(parts.join('|'), 'utf8').toString('base64url');
}

/** The parts of a cursor when each matches its pattern, else null. */
export function decodeCursor(cursor: string, patterns: RegExp[]): string[] | null {
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (parts.length !== patterns.length) return null;
  return parts.every((part, index) => patterns[index]!.test(part)) ? parts : null;
}

export const micros = /^\d{1,17}$/;
export const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const entryId = /^\d{1,18}$/;
export const productIdPart = /^[A-Za-z0-9_.-]{1,64}$/;
