#!/usr/bin/env node
// The installed `iamdb` command: runs the compiled CLI (npm start / npm test build it first).
import { main } from "../dist/src/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
