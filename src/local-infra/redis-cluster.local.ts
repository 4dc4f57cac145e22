// A local Redis Cluster for BullMQ (`npm run services:up -- --redis-cluster`): redis-server nodes in
// cluster mode on ports of their own, three masters and the rest replicas, formed once with
// `redis-cli --cluster create`. Idempotent: nodes that answer are reused, missing ones are started
// and rejoin through their nodes.conf, and a formed cluster is never formed again. No persistence:
// stopping every node empties the cluster (their nodes.conf goes too, so the next start forms it anew).
import { redisClusterNodePaths, servicesDir } from './paths.ts';
import { commandOutputOf, livePidFromFile, removeFile, runCommand } from './process.local.ts';
import { pingRedis, redisNode, startRedisNode, stopRedisNode, withRedis, type RedisNode } from './redis.local.ts';
import {
  isLoopbackHost,
  ServiceError,
  type Progress,
  type ServiceStatus,
  type StartResult,
  type StopResult,
} from './service-result.ts';
import { waitUntil } from './wait.ts';

/** The nodes `--redis-cluster` starts when REDIS_CLUSTER_NODES is not set. */
export const defaultClusterUrls = [7300, 7301, 7302, 7303, 7304, 7305].map((port) => `redis://127.0.0.1:${port}`);
export const clusterMasterCount = 3;
/**
 * How long a master may be silent before its replica takes over. Short, for a development cluster
 * whose failovers should be quick; production clusters choose their own (Redis' default is 15 s).
 */
export const clusterNodeTimeoutMs = 3_000;
const createTimeoutMs = 60_000;
const formedTimeoutMs = 60_000;

export interface ClusterLayout {
  nodes: RedisNode[];
  replicasPerMaster: number;
  /** Where each node's directory lives: the machine-wide state directory, or a test's own. */
  baseDir: string;
}

/** Three masters, each with the same number of replicas: the node count must be a multiple of three. */
export function clusterLayout(urls: readonly string[], baseDir = servicesDir): ClusterLayout {
  if (urls.length < clusterMasterCount || urls.length % clusterMasterCount !== 0) {
    throw new ServiceError(
      'redis cluster',
      `needs 3 masters and as many replicas each: 3, 6 or 9 nodes, not ${urls.length} (REDIS_CLUSTER_NODES)`,
    );
  }
  return { nodes: urls.map(redisNode), replicasPerMaster: urls.length / clusterMasterCount - 1, baseDir };
}

/** The redis-server options of a cluster node (on top of the ones every node of ours gets). */
function clusterArgs(): string[] {
  return [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(clusterNodeTimeoutMs),
    // While a master is away, the slots of the others keep answering (the rate limits' slot, say).
    '--cluster-require-full-coverage',
    'no',
    // BullMQ needs it: another policy may drop job keys under memory pressure.
    '--maxmemory-policy',
    'noeviction',
  ];
}

export interface ClusterNodeView {
  id: string;
  address: string;
  role: 'master' | 'replica';
  masterId: string | null;
  failing: boolean;
  slots: string[];
}

/** CLUSTER NODES as one node sees the cluster. */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
      const flagList = flags.split(',');
      return {
        id,
        address: address.split('@')[0] ?? address,
        role: flagList.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? null : master,
        failing: flagList.includes('fail') || flagList.includes('fail?'),
        slots,
      };
    });
}

export async function clusterNodesOf(url: string): Promise<ClusterNodeView[]> {
  return parseClusterNodes(String(await withRedis(url, (client) => client.call('CLUSTER', 'NODES'))));
}

/** CLUSTER INFO as key -> value. */
export async function clusterInfoOf(url: string): Promise<Record<string, string>> {
  const text = String(await withRedis(url, (client) => client.call('CLUSTER', 'INFO')));
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => line.trim().split(':'))
      .filter((pair): pair is [string, string] => pair.length === 2),
  );
}

async function isClusterMode(url: string): Promise<boolean> {
  const info = await withRedis(url, (client) => client.info('cluster'));
  return /cluster_enabled:1/.test(info);
}

/** True when every node says the cluster is ok and knows all the others. */
export async function isClusterFormed(layout: ClusterLayout): Promise<boolean> {
  for (const node of layout.nodes) {
    const info = await clusterInfoOf(node.url).catch(() => null);
    if (info?.cluster_state !== 'ok' || Number(info.cluster_known_nodes) !== layout.nodes.length) return false;
  }
  return true;
}

/** Starts one node of ours again (a restart after a crash): its nodes.conf makes it rejoin the cluster. */
export function startClusterNode(layout: ClusterLayout, node: RedisNode): Promise<StartResult> {
  const paths = redisClusterNodePaths(node.port, layout.baseDir);
  return startRedisNode(node.port, { paths, extraArgs: clusterArgs() });
}

/** Starts the nodes that do not answer (ours only, on this machine); checks the others run in cluster mode. */
async function ensureNodes(layout: ClusterLayout, onProgress: Progress): Promise<number> {
  let started = 0;
  for (const node of layout.nodes) {
    if (await pingRedis(node.url)) {
      if (!(await isClusterMode(node.url))) {
        throw new ServiceError(`redis cluster ${node.address}`, 'answers, but not in cluster mode; another server?');
      }
      continue;
    }
    if (!isLoopbackHost(node.host)) {
      throw new ServiceError(`redis cluster ${node.address}`, 'does not answer PING, and it is not on this machine');
    }
    const result = await startClusterNode(layout, node);
    onProgress(
      `redis cluster node ${node.address} ${result.action}${result.pid === undefined ? '' : `, pid ${result.pid}`}`,
    );
    started++;
  }
  return started;
}

/** Forms the cluster from fresh nodes: slots over three masters, the rest their replicas. */
async function createCluster(layout: ClusterLayout, onProgress: Progress): Promise<void> {
  onProgress(`forming the cluster: ${clusterMasterCount} masters, ${layout.replicasPerMaster} replica(s) each`);
  const args = ['--cluster', 'create', ...layout.nodes.map((n) => n.address)];
  args.push('--cluster-replicas', String(layout.replicasPerMaster), '--cluster-yes');
  try {
    await runCommand('redis-cli', args, { timeoutMs: createTimeoutMs });
  } catch (error) {
    throw new ServiceError(
      'redis cluster',
      `redis-cli --cluster create: ${(error as Error).message}`,
      commandOutputOf(error),
    );
  }
}

/** The nodes of a formed cluster are seen by all; fresh ones (no slots, alone) can be formed. */
async function formation(layout: ClusterLayout): Promise<'fresh' | 'formed' | 'partial'> {
  const infos = await Promise.all(layout.nodes.map((node) => clusterInfoOf(node.url)));
  const alone = infos.filter((i) => Number(i.cluster_known_nodes) === 1 && Number(i.cluster_slots_assigned) === 0);
  if (alone.length === infos.length) return 'fresh';
  return alone.length === 0 ? 'formed' : 'partial';
}

/**
 * Brings the cluster up: starts the missing nodes, forms the cluster when every node is fresh, and
 * waits (bounded) until every node says cluster_state ok.
 */
export async function ensureRedisCluster(layout: ClusterLayout, onProgress: Progress = () => undefined) {
  const started = await ensureNodes(layout, onProgress);
  const state = await formation(layout);
  if (state === 'partial') {
    const hint = 'a node lost its nodes.conf; `npm run services:down -- --redis-cluster` then up forms it anew';
    throw new ServiceError('redis cluster', `some nodes are not part of the cluster (${hint})`);
  }
  if (state === 'fresh') await createCluster(layout, onProgress);
  await waitUntil(() => isClusterFormed(layout), {
    description: 'waiting for cluster_state ok on every node',
    timeoutMs: formedTimeoutMs,
    intervalMs: 200,
    onProgress,
  });
  const action: StartResult['action'] = started > 0 || state === 'fresh' ? 'started' : 'reused';
  const how = state === 'fresh' ? 'formed now' : started > 0 ? `${started} node(s) started, rejoined` : 'formed';
  return { action, detail: `${how}; ${layout.nodes.length} nodes, ${clusterMasterCount} masters` };
}

/** Stops every node of ours and removes its nodes.conf: the data is gone, so is the formation. */
export async function stopRedisCluster(layout: ClusterLayout): Promise<Array<{ node: RedisNode; result: StopResult }>> {
  const results: Array<{ node: RedisNode; result: StopResult }> = [];
  for (const node of layout.nodes) {
    const paths = redisClusterNodePaths(node.port, layout.baseDir);
    const result = await stopRedisNode(node.port, { requireOurs: false, paths });
    if (result.action !== 'not-ours') removeFile(paths.nodesFile);
    results.push({ node, result });
  }
  return results;
}

/** One status per node: up, ours, its role and slots as the cluster sees it. */
export async function redisClusterStatuses(layout: ClusterLayout): Promise<ServiceStatus[]> {
  const statuses: ServiceStatus[] = [];
  for (const node of layout.nodes) {
    const paths = redisClusterNodePaths(node.port, layout.baseDir);
    const base = { service: 'cluster', address: node.address, up: await pingRedis(node.url) };
    const pid = livePidFromFile(paths.pidFile, 'redis-server');
    const status: ServiceStatus = pid === undefined ? { ...base, ours: false } : { ...base, ours: true, pid };
    if (base.up) status.detail = await nodeDetail(node).catch((error: unknown) => `(${(error as Error).message})`);
    statuses.push(status);
  }
  return statuses;
}

async function nodeDetail(node: RedisNode): Promise<string> {
  const [views, info] = await Promise.all([clusterNodesOf(node.url), clusterInfoOf(node.url)]);
  const self = views.find((v) => v.address === node.address) ?? views[0];
  const state = `cluster_state ${info.cluster_state ?? 'unknown'}`;
  if (self === undefined) return state;
  if (self.role === 'master') return `master, slots ${self.slots.join(' ') || 'none'}; ${state}`;
  const master = views.find((v) => v.id === self.masterId);
  return `replica of ${master?.address ?? 'unknown'}; ${state}`;
}

/** The master that serves `key`'s slot now, as `node` sees the cluster. */
export async function masterOfKey(node: RedisNode, key: string): Promise<ClusterNodeView> {
  const slot = Number(await withRedis(node.url, (client) => client.call('CLUSTER', 'KEYSLOT', key)));
  const views = await clusterNodesOf(node.url);
  const master = views.find(
    (v) =>
      v.role === 'master' &&
      !v.failing &&
      v.slots.some((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return from !== undefined && to !== undefined && slot >= from && slot <= to;
      }),
  );
  if (master === undefined) throw new Error(`no master serves slot ${slot} of ${key}`);
  return master;
}
