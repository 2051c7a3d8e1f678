// Package root: the library API other programs script against (see docs/ARCHITECTURE.md).
export {};
