/** Where commands write; tests and embedding programs can capture it. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
  env: NodeJS.ProcessEnv;
}

/**
 * A line writer for stdout or stderr that stops quietly once the reader has gone:
 * `iamdb inspect-token - | head -3` closes the pipe early, and the write's EPIPE would
 * otherwise be an unhandled 'error' event, a stack trace and exit code 1 for the pipeline's
 * first command. What is left to print is dropped; the command still finishes, with its own
 * exit code (`iamdb up` keeps serving).
 */
function lineWriter(stream: NodeJS.WriteStream): (text: string) => void {
  let gone = false;
  let watching = false;
  return (text) => {
    if (gone) return;
    if (!watching) {
      watching = true;
      // Any error on our own output (EPIPE, EBADF after the fd was closed) means nobody reads it.
      stream.on("error", () => {
        gone = true;
      });
    }
    stream.write(`${text}\n`);
  };
}

export const processIO: CliIO = {
  out: lineWriter(process.stdout),
  err: lineWriter(process.stderr),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
  env: process.env,
};
