/** For the stand-ins run as their own process: stop cleanly on the first SIGTERM or SIGINT. */

export function stopOnSignal(sandbox: { close(): Promise<void> }): void {
  const stop = () => {
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
