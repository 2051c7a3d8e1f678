/** The paths to hand `biome check`: the files git tracks, or `["."]` outside a git checkout. */
export function lintTargets(root: string): string[];
