// Types of the order machine: its input, context and events. Amounts are decimal strings.
export type Outcome = 'rejected' | 'failed' | 'expired' | 'cancelled';

export interface OrderItem {
  product_id: string;
  quantity: number;
}

export interface OrderInput {
  orderId: string;
  userId: string;
  currency: string;
  items: OrderItem[];
  subtotal: string;
  couponCode: string | null;
  reservationTtlMs: number;
  paymentDeadlineMs: number;
}

export interface OrderContext extends OrderInput {
  discount: string;
  total: string;
  /** Steps whose command was sent: each needs its undo on compensation, even if still in flight. */
  requested: { stock: boolean; coupon: boolean; payment: boolean; ledger: boolean };
  /** After payment, the two steps that run side by side: which has answered. */
  settled: { ledger: boolean; stock: boolean };
  outcome: Outcome | null;
  failureReason: string | null;
  /** Set while the order waits for an operator: the undo that could not be done, and why. */
  attention?: Attention | null;
  /** Per undo step, how often an operator asked for it again (0 when absent): part of its message id. */
  undoRetries?: Partial<Record<UndoStep, number>>;
  /** Undo steps an operator marked as done by hand outside the engine (the invariants allow for them). */
  compensatedByHand?: UndoStep[];
}

/** The compensating states that send an undo and wait for its answer. */
export type UndoStep = 'reversingLedger' | 'refunding' | 'restoringCoupon' | 'releasingStock';

export interface Attention {
  step: UndoStep;
  /** The undo command that failed (payment.refund, ...). */
  command: string;
  /** refund_refused, attempts_exhausted, ... */
  reason: string;
}

/** How an operator resolves an order that needs attention. */
export type ResolveAction = 'retry' | 'mark_compensated';

export type OrderEvent =
  | { type: 'order.placed' }
  | { type: 'inventory.reserved'; expires_at: string }
  | { type: 'inventory.rejected'; reason: string; product_id?: string }
  | { type: 'inventory.committed' }
  | { type: 'inventory.released' }
  | { type: 'coupon.redeemed'; discount: string }
  | { type: 'coupon.rejected'; reason: string }
  | { type: 'coupon.restored' }
  | { type: 'payment.succeeded'; provider_ref: string }
  | { type: 'payment.failed'; reason: string }
  | { type: 'payment.refunded'; amount: string }
  | { type: 'ledger.posted'; transaction_id: string }
  | { type: 'ledger.reversed' }
  | { type: 'reservation.expired' }
  | { type: 'payment.deadline' }
  | { type: 'order.cancel'; reason?: string }
  /** A module could not carry out an undo (attempts exhausted, or refused for good). */
  | { type: 'compensation.failed'; command: string; reason: string }
  | { type: 'order.resolve'; action: ResolveAction; note: string; operator: string };

export type OrderStatus =
  'pending' | 'confirmed' | 'rejected' | 'failed' | 'expired' | 'cancelling' | 'cancelled' | 'needs_attention';
