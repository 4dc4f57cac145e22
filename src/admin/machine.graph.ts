// The order machine as a graph, read from its own definition with xstate/graph's
// toDirectedGraph: every state node (nested as in the machine), every transition with its event
// and guard. Eventless (`always`) transitions are read from the state nodes, since the directed
// graph leaves them out. A change to the machine changes this graph with no other edit.
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';

export type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface MachineState {
  /** The state's path without the machine id, as stored in orders.state: 'compensating.refunding'. */
  id: string;
  label: string;
  kind: StateKind;
  /** Part of compensation: tagged 'compensation' in the machine, or inside a state that is. */
  compensation: boolean;
  initial: boolean;
  parent: string | null;
  children: MachineState[];
}

export interface MachineTransition {
  id: string;
  source: string;
  target: string;
  event: string;
  guard: string | null;
  label: string;
}

export interface MachineGraph {
  machineId: string;
  root: MachineState[];
  states: MachineState[];
  transitions: MachineTransition[];
}

const pathOf = (node: AnyStateNode): string => node.path.join('.');

function eventLabel(eventType: string, machineId: string): string {
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  return eventType.startsWith(`xstate.`) && eventType.includes(machineId) ? 'done' : eventType;
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') {
    const params = 'params' in guard && guard.params !== undefined ? JSON.stringify(guard.params) : '';
    return params === '' ? guard.type : `${guard.type} ${params.replace(/[{}"]/g, '')}`;
  }
  return 'guard';
}

interface RawTransition {
  eventType: string;
  guard?: unknown;
  target?: readonly AnyStateNode[] | undefined;
}

function transitionOf(source: AnyStateNode, raw: RawTransition, machineId: string, index: number): MachineTransition[] {
  const targets = raw.target && raw.target.length > 0 ? raw.target : [source];
  return targets.map((target) => {
    const event = eventLabel(raw.eventType, machineId);
    const guard = guardName(raw.guard);
    return {
      id: `${pathOf(source)}|${index}|${pathOf(target)}`,
      source: pathOf(source),
      target: pathOf(target),
      event,
      guard,
      label: guard === null ? event : `${event} [${guard}]`,
    };
  });
}

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const states: MachineState[] = [];
  const transitions: MachineTransition[] = [];
  const visit = (node: DirectedGraphNode, parent: MachineState | null, inCompensation: boolean): MachineState => {
    const stateNode = node.stateNode;
    const compensation = inCompensation || stateNode.tags.includes('compensation');
    const state: MachineState = {
      id: pathOf(stateNode),
      label: stateNode.key,
      kind: stateNode.type as StateKind,
      compensation,
      initial: stateNode.parent?.initial?.target?.[0] === stateNode,
      parent: parent?.id ?? null,
      children: [],
    };
    states.push(state);
    const raw: RawTransition[] = [
      ...node.edges.map((edge) => edge.transition as RawTransition),
      ...((stateNode.always ?? []) as RawTransition[]),
    ];
    raw.forEach((t, index) => transitions.push(...transitionOf(stateNode, t, machine.id, index)));
    state.children = node.children.map((child) => visit(child, state, compensation));
    return state;
  };
  const top = toDirectedGraph(machine);
  const root = top.children.map((child) => visit(child, null, false));
  for (const t of top.edges)
    transitions.push(...transitionOf(top.stateNode, t.transition as RawTransition, machine.id, 0));
  return { machineId: machine.id, root, states, transitions };
}
