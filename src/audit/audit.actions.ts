// The audit rows of operator actions, built the same way wherever the action is taken (the REST
// API or the console): who (the token's subject and role), what, on which order or product, and
// the outcome: `ok`, or the code that refused it.
import type { Result } from '../domain/errors.ts';
import type { Principal } from '../platform/auth.ts';
import type { Client } from '../platform/db.ts';
import type { CancelRecorder } from '../orders/order.service.ts';
import { recordAudit, type AuditEntry } from './audit.sql.ts';

/** `ok` for a success, else the refusal's code. */
export function outcomeOf(result: Result<unknown>): string {
  return result.ok ? 'ok' : result.error.code;
}

/** The actor fields of an entry. */
export function actorOf(who: Principal): Pick<AuditEntry, 'actor' | 'actorRole'> {
  return { actor: who.userId, actorRole: who.role };
}

/** Records a force-cancel in the cancel's own transaction, refused or not. */
export function forceCancelRecorder(
  who: Principal,
  orderId: string,
  correlationId: string,
  detail: Record<string, unknown>,
): CancelRecorder {
  return (client: Client, result) =>
    recordAudit(client, {
      ...actorOf(who),
      action: 'order.force_cancel',
      orderId,
      outcome: outcomeOf(result),
      detail,
      correlationId,
    });
}
