// Counts every call to the payment provider by operation and outcome (succeeded, declined,
// voided, refunded, nothing_to_refund, refused, transient_error, lost_response, error), around any
// provider behind the port. The provider's own behaviour is unchanged.
import { ProviderLostResponseError, ProviderTransientError, type PaymentProvider } from './provider.port.ts';

export type ProviderCallListener = (operation: 'charge' | 'refund' | 'status', outcome: string) => void;

function failureOutcome(error: unknown): string {
  if (error instanceof ProviderLostResponseError) return 'lost_response';
  if (error instanceof ProviderTransientError) return 'transient_error';
  return 'error';
}

async function observed<T>(
  operation: 'charge' | 'refund' | 'status',
  call: () => Promise<T>,
  outcomeOf: (result: T) => string,
  onCall: ProviderCallListener,
): Promise<T> {
  try {
    const result = await call();
    onCall(operation, outcomeOf(result));
    return result;
  } catch (error) {
    onCall(operation, failureOutcome(error));
    throw error;
  }
}

export function instrumentProvider(provider: PaymentProvider, onCall: ProviderCallListener): PaymentProvider {
  return {
    charge: (request) =>
      observed(
        'charge',
        () => provider.charge(request),
        (r) => r.status,
        onCall,
      ),
    refund: (request) =>
      observed(
        'refund',
        () => provider.refund(request),
        (r) => r.status,
        onCall,
      ),
    status: (key) =>
      observed(
        'status',
        () => provider.status(key),
        (r) => (r === null ? 'not_found' : 'found'),
        onCall,
      ),
  };
}
