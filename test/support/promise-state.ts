/**
 * Watches a promise without awaiting it, so a test can check whether an acknowledgement is still
 * pending: `state` becomes 'resolved' or 'rejected: <error code>' once it settles.
 */
export function track(promise: Promise<void>): { state: string; error?: unknown } {
  const t: { state: string; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (t.state = 'resolved'),
    (error: { code?: string }) => {
      t.state = `rejected: ${error.code}`;
      t.error = error;
    },
  );
  return t;
}
