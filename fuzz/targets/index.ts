import type { AnyTarget } from "../lib.js";
import { mysqlBackend, mysqlFrontend } from "./mysql.js";
import {
  postgresBackend,
  postgresFramer,
  postgresFrontend,
  postgresScramServer,
  postgresStatements,
} from "./postgres.js";
import { policyParser, queryParams, sigv4Verifier, tokenParser } from "./text.js";

export const TARGETS: readonly AnyTarget[] = [
  postgresFrontend,
  postgresBackend,
  postgresFramer,
  postgresStatements,
  postgresScramServer,
  mysqlFrontend,
  mysqlBackend,
  tokenParser,
  sigv4Verifier,
  policyParser,
  queryParams,
];
