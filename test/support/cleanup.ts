/** Anything a test opens and must close: servers, senders, databases. */
export interface Closeable {
  close(): unknown;
}

/**
 * Registers an `afterEach` that closes everything passed to the returned `track` during the test,
 * newest first (a sender before the server it talks to), so no handle outlives its test.
 */
export function closeAfterEach(): <T extends Closeable>(item: T) => T {
  let open: Closeable[] = [];
  afterEach(async () => {
    const items = open.reverse();
    open = [];
    for (const item of items) await item.close();
  });
  return (item) => {
    open.push(item);
    return item;
  };
}
