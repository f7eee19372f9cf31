/**
 * The test harness's worker thread: one {@link ClonePool}, exposed to the host with comlink on the
 * port it was given, as the migrator's thread exposes its control. Each call's result travels as
 * a {@link PoolOutcome}: errors as envelopes, rebuilt by code on the host.
 */
import { toEnvelope } from '@offloop/core';
import * as Comlink from 'comlink';
import { workerData } from 'node:worker_threads';
import type { HarnessChannel, PoolOutcome, PoolApi, PoolWorkerData } from '../protocol.ts';
import { ClonePool } from './clone-pool.ts';

const data = workerData as PoolWorkerData;
const host = Comlink.wrap<HarnessChannel>(data.host);
// Best effort: a host that went away must not turn into an unhandled rejection here.
const pool = new ClonePool(data.options, (database) =>
  host.reserved(database).catch(() => undefined),
);

const settle = <T>(result: Promise<T>): Promise<PoolOutcome<T>> =>
  result.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error: toEnvelope(error) }),
  );

const api: PoolApi = {
  template: () => settle(pool.template()),
  acquire: () => settle(pool.acquire()),
  release: (name) => settle(pool.release(name)),
  taken: (name) => settle(pool.taken(name)),
  stats: () => settle(pool.stats()),
  prune: () => settle(pool.prune()),
  close: () => settle(pool.close()),
};

Comlink.expose(api, data.api);
