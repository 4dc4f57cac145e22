// The visualizer's graph is read from the machine's definition: every state node and every
// transition, compensation and final states marked; a different machine gives a different
// picture with no other edit. And the login's `next` never leaves the admin pages.
import { describe, expect, it } from 'vitest';
import { createMachine, type AnyStateNode } from 'xstate';
import { orderMachine } from '../../machines/order.machine.ts';
import { safeNext } from '../../src/admin/admin.session.ts';
import { machineGraph } from '../../src/admin/machine.graph.ts';
import { renderMachineSvg } from '../../src/admin/machine.svg.ts';

function statePaths(node: AnyStateNode): string[] {
  return Object.values(node.states).flatMap((child) => [child.path.join('.'), ...statePaths(child)]);
}

describe('machineGraph(orderMachine)', () => {
  const graph = machineGraph(orderMachine);

  it('holds every state node of the definition, nested as in the machine', () => {
    expect(graph.states.map((s) => s.id).sort()).toEqual(statePaths(orderMachine.root).sort());
    expect(graph.states.find((s) => s.id === 'compensating.refunding')?.parent).toBe('compensating');
    expect(graph.root.map((s) => s.id)).not.toContain('compensating.refunding');
  });

  it('marks final states, the initial state and compensation', () => {
    expect(
      graph.states
        .filter((s) => s.kind === 'final')
        .map((s) => s.id)
        .sort(),
    ).toEqual(['cancelled', 'compensating.done', 'expired', 'failed', 'rejected']);
    expect(graph.states.filter((s) => s.initial && s.parent === null).map((s) => s.id)).toEqual(['pending']);
    const compensation = graph.states.filter((s) => s.compensation).map((s) => s.id);
    expect(compensation.every((id) => id.startsWith('compensating'))).toBe(true);
    expect(compensation).toContain('compensating.releasingStock');
    expect(graph.states.find((s) => s.id === 'charging')?.compensation).toBe(false);
  });

  it('has a transition for every event each state takes, eventless ones included, between known states', () => {
    const ids = new Set(graph.states.map((s) => s.id));
    for (const t of graph.transitions) {
      expect(ids.has(t.source), t.id).toBe(true);
      expect(ids.has(t.target), t.id).toBe(true);
    }
    const labels = (source: string) => graph.transitions.filter((t) => t.source === source).map((t) => t.label);
    expect(labels('charging')).toEqual(
      expect.arrayContaining(['payment.succeeded', 'payment.failed', 'payment.deadline', 'order.cancel']),
    );
    expect(labels('compensating.ledger')).toEqual(['always [ledgerRequested]', 'always']);
    expect(labels('compensating')).toContain('done [outcomeIs outcome:failed]');
  });

  it('draws every state and every transition in the SVG', async () => {
    const svg = await renderMachineSvg(graph);
    for (const s of graph.states) expect(svg).toContain(`data-state="${s.id}"`);
    expect(svg.match(/data-transition="/g)?.length).toBe(graph.transitions.length);
  });
});

describe('another machine', () => {
  it('gives another picture with no other edit', () => {
    const machine = createMachine({
      id: 'door',
      initial: 'closed',
      states: {
        closed: { on: { open: 'opened' } },
        opened: { on: { close: 'closed', lock: 'gone' } },
        gone: { type: 'final' },
      },
    });
    const graph = machineGraph(machine);
    expect(graph.states.map((s) => s.id)).toEqual(['closed', 'opened', 'gone']);
    expect(graph.transitions.map((t) => `${t.source}-${t.event}->${t.target}`)).toEqual([
      'closed-open->opened',
      'opened-close->closed',
      'opened-lock->gone',
    ]);
  });
});

describe('safeNext (where a login may send the browser)', () => {
  it.each([
    ['/admin/queues', '/admin/queues'],
    ['/admin/machine?order=6f1c', '/admin/machine?order=6f1c'],
    ['/admin', '/admin'],
    ['/admin/orders?state=charging&user_id=a.b', '/admin/orders?state=charging&user_id=a.b'],
    ['https://evil.example/', '/admin'],
    ['//evil.example/admin', '/admin'],
    ['/admin/../api', '/admin'],
    ['/admin/./queues', '/admin'],
    ['/api/v1/orders', '/admin'],
    [undefined, '/admin'],
    [['/admin/queues'], '/admin'],
  ])('%j -> %s', (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });
});
