/**
 * Exit codes, as the brief fixes them: 0 success, 1 a failure the user can fix (the
 * message says how), 2 a usage error.
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure the user can fix; its message says what to do next. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** The command line itself is wrong. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = "UsageError";
  }
}
