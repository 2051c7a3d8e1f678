// `iamdb` from the TypeScript sources, for benchmarks that run a command (the client proxy)
// as a process of its own, so its CPU is read from /proc apart from everything else.
import { main } from "../../src/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
