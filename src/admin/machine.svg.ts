// Lays the machine graph out with ELK (layered, nested states kept inside their parent) and
// draws it as one SVG. Every state is a <g data-state="...">, every transition a
// <g data-transition="..." data-source data-target data-event>, so the page can put counts on
// states and highlight one order's path without knowing the layout. Laid out once per process.
import elkModule from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkLabel, ElkNode } from 'elkjs/lib/elk-api.js';
import type { MachineGraph, MachineState, MachineTransition } from './machine.graph.ts';

// elkjs is CommonJS: its module object is the constructor, whatever its typings say.
type ElkConstructor = typeof import('elkjs/lib/elk-api.js').default;
const Elk = ((elkModule as unknown as { default?: ElkConstructor }).default ??
  (elkModule as unknown as ElkConstructor)) as ElkConstructor;

const charWidth = 7.2;
const stateHeight = 46;
const labelHeight = 14;
const compoundHeaderHeight = 28;

const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

const textWidth = (text: string): number => Math.ceil(text.length * charWidth) + 8;

function elkNode(state: MachineState): ElkNode {
  if (state.children.length === 0) {
    return { id: state.id, width: Math.max(110, textWidth(state.label) + 28), height: stateHeight };
  }
  return {
    id: state.id,
    layoutOptions: {
      'elk.padding': `[top=${compoundHeaderHeight + 8},left=16,bottom=16,right=16]`,
      'elk.direction': 'DOWN',
    },
    children: state.children.map(elkNode),
  };
}

function elkEdge(t: MachineTransition): ElkExtendedEdge {
  const label: ElkLabel = { id: `${t.id}#label`, text: t.label, width: textWidth(t.label), height: labelHeight };
  return { id: t.id, sources: [t.source], targets: [t.target], labels: [label] };
}

const layoutOptions = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.layered.spacing.nodeNodeBetweenLayers': '46',
  'elk.spacing.nodeNode': '34',
  'elk.spacing.edgeLabel': '4',
  'elk.edgeLabels.inline': 'false',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.json.edgeCoords': 'ROOT',
  'elk.json.shapeCoords': 'ROOT',
};

function drawState(node: ElkNode, state: MachineState): string {
  const { x = 0, y = 0, width = 0, height = 0 } = node;
  const classes = ['state', `state-${state.kind}`];
  if (state.compensation) classes.push('state-compensation');
  if (state.initial) classes.push('state-initial');
  const compound = state.children.length > 0;
  const label = compound
    ? `<text class="state-label" x="${x + 12}" y="${y + 19}">${escapeXml(state.label)}</text>`
    : `<text class="state-label" x="${x + width / 2}" y="${y + 19}" text-anchor="middle">${escapeXml(state.label)}</text>`;
  const finalRing =
    state.kind === 'final'
      ? `<rect class="state-final-ring" x="${x + 4}" y="${y + 4}" width="${width - 8}" height="${height - 8}" rx="6"/>`
      : '';
  const count = `<text class="state-count" data-count-for="${escapeXml(state.id)}" x="${compound ? x + width - 12 : x + width / 2}" y="${compound ? y + 19 : y + 36}" text-anchor="${compound ? 'end' : 'middle'}"></text>`;
  return `<g class="${classes.join(' ')}" data-state="${escapeXml(state.id)}" data-kind="${state.kind}" tabindex="0">
<title>${escapeXml(state.id)} (${state.kind}${state.compensation ? ', compensation' : ''})</title>
<rect class="state-box" x="${x}" y="${y}" width="${width}" height="${height}" rx="${compound ? 12 : 9}"/>${finalRing}${label}${count}</g>`;
}

function drawEdge(edge: ElkExtendedEdge, t: MachineTransition): string {
  const parts: string[] = [];
  for (const section of edge.sections ?? []) {
    const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
    parts.push(`M ${points.map((p) => `${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' L ')}`);
  }
  const label = edge.labels?.[0];
  const text =
    label === undefined
      ? ''
      : `<text class="transition-label" x="${(label.x ?? 0) + 4}" y="${(label.y ?? 0) + 11}">${escapeXml(t.label)}</text>`;
  return `<g class="transition" data-transition="${escapeXml(t.id)}" data-source="${escapeXml(t.source)}" data-target="${escapeXml(t.target)}" data-event="${escapeXml(t.event)}">
<path class="transition-path" d="${parts.join(' ')}" marker-end="url(#arrow)"/>${text}</g>`;
}

function flatten(node: ElkNode, into: Map<string, ElkNode>): Map<string, ElkNode> {
  for (const child of node.children ?? []) {
    into.set(child.id, child);
    flatten(child, into);
  }
  return into;
}

/** The whole SVG document of the machine, laid out by ELK. */
export async function renderMachineSvg(graph: MachineGraph): Promise<string> {
  const elk = new Elk();
  const input: ElkNode = {
    id: 'root',
    layoutOptions,
    children: graph.root.map(elkNode),
    edges: graph.transitions.map(elkEdge),
  };
  const laidOut: ElkNode = await elk.layout(input);
  const nodes = flatten(laidOut, new Map());
  const edges = new Map((laidOut.edges ?? []).map((e) => [e.id, e]));
  // Parents first, so a nested state is drawn on top of its compound parent.
  const states = graph.states.map((s) => drawState(nodes.get(s.id) ?? { id: s.id }, s)).join('\n');
  const transitions = graph.transitions
    .map((t) => {
      const edge = edges.get(t.id);
      return edge === undefined ? '' : drawEdge(edge, t);
    })
    .join('\n');
  const width = Math.ceil((laidOut.width ?? 800) + 20);
  const height = Math.ceil((laidOut.height ?? 600) + 20);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="machine" id="machine-svg" data-machine="${escapeXml(graph.machineId)}" viewBox="-10 -10 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="The ${escapeXml(graph.machineId)} state machine">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>
<g class="states">${states}</g>
<g class="transitions">${transitions}</g>
</svg>`;
}
