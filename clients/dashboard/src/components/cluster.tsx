import { useEffect, useReducer } from 'preact/hooks';
import type { ClusterView, IExpressionRest } from '../../../sdk/src';
import { describeError, useStore } from '../store';

/** How often the cluster view (GET /api/cluster) is fetched while a component shows it. */
const POLL_MS = 5000;

/** One fetch loop shared by every component that shows the cluster (the panel and each camera tile). */
const shared: { view: ClusterView | null; error: string | null; timer: ReturnType<typeof setInterval> | null; listeners: Set<() => void> } = {
  view: null,
  error: null,
  timer: null,
  listeners: new Set(),
};

async function poll(rest: IExpressionRest): Promise<void> {
  try {
    shared.view = await rest.cluster();
    shared.error = null;
  } catch (err) {
    shared.error = describeError(err);
  }
  for (const listener of shared.listeners) listener();
}

/** The latest cluster view (null until the first answer), refreshed every POLL_MS while mounted. */
export function useCluster(): { view: ClusterView | null; error: string | null } {
  const store = useStore();
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const listener = () => bump(undefined);
    shared.listeners.add(listener);
    if (!shared.timer) {
      void poll(store.rest);
      shared.timer = setInterval(() => void poll(store.rest), POLL_MS);
    }
    return () => {
      shared.listeners.delete(listener);
      if (shared.listeners.size === 0 && shared.timer) {
        clearInterval(shared.timer);
        shared.timer = null;
      }
    };
  }, [store]);
  return { view: shared.view, error: shared.error };
}

/** Several nodes, or a node that joined a cluster (a single node without NODE_ID is `local`, alone). */
export function isClustered(view: ClusterView | null): boolean {
  return Boolean(view && (view.nodes.length > 1 || view.self.id !== 'local'));
}

/** Which node runs a camera (the view's `node`), shown only in a cluster; null node = nobody holds it right now. */
export function NodeBadge({ node }: { node: string | null | undefined }) {
  const { view } = useCluster();
  if (node === undefined || !isClustered(view)) return null;
  return node === null ? (
    <span class="badge node none" title="No node runs this camera right now: it is being placed or taken over">
      no node yet
    </span>
  ) : (
    <span class="badge node" title={`Runs on node ${node}${node === view!.self.id ? ' (the one this page talks to)' : ''}`} data-node={node}>
      node {node}
    </span>
  );
}

const ago = (ms: number) => (ms < 1500 ? 'now' : `${Math.round(ms / 1000)} s ago`);

/** The nodes of the cluster with their cameras and load; nothing on a single node. */
export function ClusterPanel() {
  const store = useStore();
  const { view, error } = useCluster();
  if (!isClustered(view)) return null;
  const nameOf = (id: string) => store.cameras.get(id)?.name ?? id;
  return (
    <section class="card cluster" aria-labelledby="cluster-title">
      <header class="card-head">
        <h2 id="cluster-title">Cluster</h2>
        <span class="muted">
          {view!.nodes.length} node{view!.nodes.length === 1 ? '' : 's'} · this page talks to {view!.self.id}
        </span>
      </header>
      <table class="cluster-nodes">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Cameras</th>
            <th scope="col">Frames/s</th>
            <th scope="col">CPU</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {view!.nodes.map((n) => (
            <tr data-node={n.id}>
              <th scope="row">
                {n.id}
                {n.id === view!.self.id ? <span class="muted"> (this one)</span> : null}
              </th>
              <td>{n.cameras.length ? n.cameras.map(nameOf).join(', ') : <span class="muted">none</span>}</td>
              <td>{n.load.framesPerSecond.toFixed(1)}</td>
              <td>{Math.round(n.load.cpu * 100)}% of {n.load.cores} cores</td>
              <td>{ago(Date.now() - n.lastSeen)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {error ? (
        <p class="error" role="alert">
          Could not refresh the cluster view: {error}
        </p>
      ) : null}
    </section>
  );
}
