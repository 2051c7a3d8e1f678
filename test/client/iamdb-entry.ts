// `iamdb` from the TypeScript sources, for tests that run the CLI as a child process without
// a build (bin/iamdb.js runs dist/).
import { main } from "../../src/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
