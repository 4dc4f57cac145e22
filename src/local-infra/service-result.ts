// The values that local-infra functions return to the entry point and to tests: what happened, never a printout.

export type StartAction = 'reused' | 'started';
export interface StartResult {
  action: StartAction;
  /** The process id when the process is ours (started now or by an earlier `services:up`). */
  pid?: number;
  detail?: string;
}

/** `not-ours`: something answers on the port, but no pidfile of ours names it, so we leave it alone. */
export type StopAction = 'stopped' | 'killed' | 'not-running' | 'not-ours';
export interface StopResult {
  action: StopAction;
  pid?: number;
}

export interface ServiceStatus {
  service: string;
  address: string;
  up: boolean;
  /** A live pidfile of ours names the process. */
  ours: boolean;
  pid?: number;
  detail?: string;
}

/** Receives one human-readable line while a long step is waiting. */
export type Progress = (line: string) => void;

/** A failure that names its service; `details` holds multi-line context such as a log tail. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly service: string,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** We only ever start servers on this machine; a remote address is checked but never started. */
export function isLoopbackHost(host: string): boolean {
  return loopbackHosts.has(host.toLowerCase());
}
