import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { DatabaseHandle } from '@lunasentri/shared';

/** A handle whose Kysely counts every statement it runs (reads, writes, transaction bodies alike). */
export interface CountingHandle<H extends DatabaseHandle> {
  handle: H;
  /** statements run since the last {@link CountingHandle.reset} */
  count(): number;
  reset(): void;
}

/**
 * Wraps a database handle so that what is run through its `db` is counted: a test or a benchmark
 * gives the API this handle and reads how many queries a request cost. The connection is the same;
 * only the Kysely instance differs (a plugin sees each compiled statement once).
 */
export function countQueries<H extends DatabaseHandle>(handle: H): CountingHandle<H> {
  let statements = 0;
  const plugin: KyselyPlugin = {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      statements++;
      return args.node;
    },
    transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      return Promise.resolve(args.result);
    },
  };
  const counted = Object.assign(Object.create(Object.getPrototypeOf(handle) as object) as H, handle, { db: handle.db.withPlugin(plugin) });
  return {
    handle: counted,
    count: () => statements,
    reset: () => {
      statements = 0;
    },
  };
}
