/**
 * Waits for SIGTERM or SIGINT, then runs `stop(signal)` once (the caller logs what it drains)
 * and resolves when it has finished or failed. Further signals are no longer taken here.
 */
export function untilStopSignal(stop: (signal: "SIGTERM" | "SIGINT") => Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: "SIGTERM" | "SIGINT") => {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      stop(signal).then(
        () => resolve(),
        () => resolve(),
      );
    };
    const onTerm = () => onSignal("SIGTERM");
    const onInt = () => onSignal("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  });
}
