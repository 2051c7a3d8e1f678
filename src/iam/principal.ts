/**
 * Who a credential speaks for, as the gateway and the STS operations need it.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#principaltable
 */
export interface UserPrincipal {
  readonly type: "user";
  /** `arn:aws:iam::ACCOUNT:user/PATH/NAME`. GetSessionToken sessions act as the user itself. */
  readonly arn: string;
  /** `AIDA…`, the value of `aws:userid`. */
  readonly userId: string;
  readonly userName: string;
  /** Set when the credential is a GetSessionToken session (`ASIA…`) rather than a long-term key. */
  readonly sessionAccessKeyId?: string | undefined;
}

export interface AssumedRolePrincipal {
  readonly type: "assumed-role";
  /** `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`. */
  readonly arn: string;
  /** `arn:aws:iam::ACCOUNT:role/PATH/ROLE`. */
  readonly roleArn: string;
  readonly roleId: string;
  readonly roleName: string;
  readonly sessionName: string;
  /** `AROA…:SESSION`, the value of `aws:userid`. */
  readonly principalId: string;
  /** The session's `ASIA…` key id; identifies its session policy. */
  readonly sessionAccessKeyId: string;
}

export type Principal = UserPrincipal | AssumedRolePrincipal;

/** What lookupCredential answers: enough to check a SigV4 signature and name the principal. */
export interface Credential {
  readonly accessKeyId: string;
  /** Decrypted for this call only; never cached in clear. */
  readonly secretAccessKey: string;
  /** Temporary credentials are always Active; they end by expiry. */
  readonly status: "Active" | "Inactive";
  /** Temporary credentials only: the token the request must carry, and when it stops working. */
  readonly sessionToken?: string | undefined;
  readonly expiresAt?: Date | undefined;
  readonly principal: Principal;
}
