// The local Redis Cluster's pure parts: which node counts make three masters with equal replicas,
// and how CLUSTER NODES reads (roles, masters, failing nodes, slot ranges).
import { describe, expect, it } from 'vitest';
import { clusterLayout, parseClusterNodes } from '../../src/local-infra/redis-cluster.local.ts';

const urls = (count: number) => Array.from({ length: count }, (_, i) => `redis://127.0.0.1:${7300 + i}`);

describe('clusterLayout', () => {
  it.each([
    [3, 0],
    [6, 1],
    [9, 2],
  ])('%i nodes: three masters with %i replica(s) each', (count, replicas) => {
    const layout = clusterLayout(urls(count), '/tmp/cluster-test');
    expect(layout.replicasPerMaster).toBe(replicas);
    expect(layout.nodes.map((n) => n.port)).toEqual(urls(count).map((_, i) => 7300 + i));
  });

  it.each([1, 2, 4, 5, 7])('refuses %i nodes, naming REDIS_CLUSTER_NODES', (count) => {
    expect(() => clusterLayout(urls(count))).toThrow(/REDIS_CLUSTER_NODES/);
  });
});

describe('parseClusterNodes', () => {
  const text = [
    'a877 127.0.0.1:7305@17305 slave 33b5 0 1796179138633 3 connected',
    '12da 127.0.0.1:7300@17300 myself,master - 0 1796179138000 1 connected 0-5460',
    '33b5 127.0.0.1:7302@17302 master,fail - 1796179138000 1796179139138 3 disconnected',
    'ed88 127.0.0.1:7301@17301 master - 0 1796179138000 2 connected 5461-10922 10923',
    '',
  ].join('\n');

  it('reads each node: address without the bus port, role, master, failure, slots', () => {
    expect(parseClusterNodes(text)).toEqual([
      { id: 'a877', address: '127.0.0.1:7305', role: 'replica', masterId: '33b5', failing: false, slots: [] },
      { id: '12da', address: '127.0.0.1:7300', role: 'master', masterId: null, failing: false, slots: ['0-5460'] },
      { id: '33b5', address: '127.0.0.1:7302', role: 'master', masterId: null, failing: true, slots: [] },
      {
        id: 'ed88',
        address: '127.0.0.1:7301',
        role: 'master',
        masterId: null,
        failing: false,
        slots: ['5461-10922', '10923'],
      },
    ]);
  });
});
