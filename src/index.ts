// Package root: the library API other programs script against (see docs/ARCHITECTURE.md).
export * from "./sigv4/index.js";
export * from "./token/index.js";
